/** Typed statuses shared by every part of YACI. Unknown values are errors, never defaults. */

export const RUN_PHASES = ["queued", "in_progress", "completed"] as const;
/** The life of one run of one job; the same words GitHub uses for a check run's `status`. */
export type RunPhase = (typeof RUN_PHASES)[number];

export const CONCLUSIONS = ["success", "failure", "timed_out", "cancelled", "action_required", "neutral", "skipped"] as const;
/** A completed run's result; the same words GitHub uses for a check run's `conclusion`. */
export type Conclusion = (typeof CONCLUSIONS)[number];

/** Why a job ended, as an executor observed it. */
export const OUTCOMES = ["succeeded", "failed", "timed_out", "cancelled", "interrupted", "error", "skipped"] as const;
export type Outcome = (typeof OUTCOMES)[number];

export function assertNever(value: never, what = "value"): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}

export function outcomeToConclusion(outcome: Outcome): Conclusion {
  switch (outcome) {
    case "succeeded":
      return "success";
    case "failed":
    case "interrupted":
    case "error":
      return "failure";
    case "timed_out":
      return "timed_out";
    case "cancelled":
      return "cancelled";
    case "skipped":
      return "skipped";
    default:
      return assertNever(outcome, "outcome");
  }
}
