import type { JobObservation } from "../executor.js";

/** What makes an observation new: the same key twice in a row is emitted once. */
export function observationKey(o: JobObservation): string {
  switch (o.phase) {
    case "pending":
      return `pending|${o.waitingReason ?? ""}`;
    case "running":
      return `running|${o.startedAt.getTime()}`;
    case "finished":
      return `finished|${o.outcome}`;
  }
}
