import type { RunRecord } from "./run.js";
import type { JobObservation } from "./observation.js";
import { assertNever, outcomeToConclusion } from "./status.js";

export const INTERRUPTED_MESSAGE = "interrupted: the runner restarted";

/**
 * The run state machine: queued → in_progress → completed, driven by what an executor observed.
 * Returns the new record, or `null` when the observation changes nothing (repeats, or anything
 * after completion: the first final result wins, so a result is never reported twice).
 */
export function applyObservation(r: RunRecord, o: JobObservation): RunRecord | null {
  if (r.phase === "completed") return null;
  const next = transition(r, o);
  if (next && o.podName) next.podName = o.podName;
  return next;
}

function transition(r: RunRecord, o: JobObservation): RunRecord | null {
  switch (o.phase) {
    case "pending": {
      if (r.phase !== "queued" || r.waitingReason === o.waitingReason) return null;
      const next: RunRecord = { ...r };
      if (o.waitingReason) next.waitingReason = o.waitingReason;
      else delete next.waitingReason;
      return next;
    }
    case "running": {
      if (r.phase === "in_progress") return null;
      const next: RunRecord = { ...r, phase: "in_progress", startedAt: r.startedAt ?? o.startedAt.toISOString() };
      delete next.waitingReason;
      return next;
    }
    case "finished": {
      const finishedAt = o.finishedAt.toISOString();
      const next: RunRecord = {
        ...r,
        phase: "completed",
        outcome: o.outcome,
        conclusion: outcomeToConclusion(o.outcome),
        startedAt: r.startedAt ?? o.startedAt?.toISOString() ?? finishedAt,
        finishedAt,
      };
      delete next.waitingReason;
      if (o.exitCode !== undefined) next.exitCode = o.exitCode;
      const message = o.message ?? (o.outcome === "interrupted" ? INTERRUPTED_MESSAGE : undefined);
      if (message) next.message = message;
      return next;
    }
    default:
      return assertNever(o, "observation");
  }
}
