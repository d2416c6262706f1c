import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import { toDate } from "./to-date.js";

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
