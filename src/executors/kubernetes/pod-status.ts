import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";

/** Timestamps are `Date` from typed list calls and strings from watch events: accept both. */
export function toDate(v: unknown): Date | undefined {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v;
  if (typeof v === "string" && v) {
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return undefined;
}

/** A message on one line, cut to `max` characters (`undefined` when there is nothing to say). */
export function shortText(text: string | undefined, max = 300): string | undefined {
  if (!text) return undefined;
  const t = text.trim().replace(/\s+/g, " ");
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

export type Condition = { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: Date | string };

/** The object's condition of this type, when it is `True`. */
export function condition(obj: { status?: { conditions?: Condition[] } } | undefined, type: string): Condition | undefined {
  return obj?.status?.conditions?.find((c) => c.type === type && c.status === "True");
}

/** The pod's `PodScheduled=False` condition: no node fits it (yet). */
export function unschedulable(pod: V1Pod | undefined): Condition | undefined {
  return pod?.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
}

/** The statuses of the pod's init containers, then of its containers. */
export function containerStatuses(pod: V1Pod | undefined): V1ContainerStatus[] {
  return [...(pod?.status?.initContainerStatuses ?? []), ...(pod?.status?.containerStatuses ?? [])];
}

export function containerStatus(pod: V1Pod | undefined, name: string): V1ContainerStatus | undefined {
  return containerStatuses(pod).find((s) => s.name === name);
}

export function hasStarted(s: V1ContainerStatus | undefined): boolean {
  return !!(s?.state?.running || s?.state?.terminated || s?.lastState?.terminated);
}

/** When the pod started doing work: the earliest container start. */
export function startedAt(pod: V1Pod | undefined): Date | undefined {
  let first: Date | undefined;
  for (const s of containerStatuses(pod)) {
    const t = toDate(s.state?.running?.startedAt) ?? toDate(s.state?.terminated?.startedAt) ?? toDate(s.lastState?.terminated?.startedAt);
    if (t && (!first || t < first)) first = t;
  }
  return first;
}

/** One pod of a run as last seen; `gone` once it was deleted. */
export interface SeenPod {
  pod: V1Pod;
  gone: boolean;
}

/** The pod that tells a run's story: a live pod beats a deleted one; then the newest. */
export function newestPod(pods: Iterable<SeenPod>): SeenPod | undefined {
  let best: SeenPod | undefined;
  for (const p of pods) {
    if (!best) best = p;
    else {
      const a = new Date(String(best.pod.metadata?.creationTimestamp ?? 0)).getTime();
      const b = new Date(String(p.pod.metadata?.creationTimestamp ?? 0)).getTime();
      // A live pod beats a deleted one; then the newest.
      if ((best.gone && !p.gone) || (best.gone === p.gone && b > a)) best = p;
    }
  }
  return best;
}
