import type { V1Pod } from "@kubernetes/client-node";

export type Condition = { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: Date | string };

/** The object's condition of this type, when it is `True`. */
export function condition(obj: { status?: { conditions?: Condition[] } } | undefined, type: string): Condition | undefined {
  return obj?.status?.conditions?.find((c) => c.type === type && c.status === "True");
}

/** The pod's `PodScheduled=False` condition: no node fits it (yet). */
export function unschedulable(pod: V1Pod | undefined): Condition | undefined {
  return pod?.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
}
