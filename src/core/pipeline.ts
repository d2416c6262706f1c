/**
 * `needs:` — when a job that needs others may start (pure). A job starts when the latest attempt
 * of every job it needs succeeded; it is skipped, with the reason, as soon as one of them ended
 * any other way; otherwise it waits. Used by the scheduler (runs/pipeline-gate.ts).
 */
import type { Conclusion, RunPhase } from "./status.js";
import { assertNever } from "./status.js";

/** What the verdict needs to know of the latest attempt of one needed job. */
export interface NeededRun {
  phase: RunPhase;
  conclusion?: Conclusion;
}

export type NeedsVerdict =
  | { kind: "start" }
  | { kind: "wait"; waitingFor: string[] }
  | { kind: "skip"; reason: string };

/** Why a dependent does not run, from the way one job it needs ended ("`build` failed"). */
export function skipReason(job: string, conclusion: Conclusion | undefined): string {
  const name = `\`${job}\``;
  const c = conclusion ?? "failure";
  switch (c) {
    case "failure":
      return `${name} failed`;
    case "timed_out":
      return `${name} timed out`;
    case "cancelled":
      return `${name} was cancelled`;
    case "skipped":
      return `${name} was skipped`;
    case "action_required":
      return `${name} needs approval`;
    case "neutral":
      return `${name} did not succeed`;
    case "success":
      return `${name} succeeded`; // never a reason to skip; here for exhaustiveness
    default:
      return assertNever(c, "conclusion");
  }
}

/**
 * The verdict for a job that needs `needs`, given the latest attempt of each job of its commit
 * (by name). A needed job with no run at all (it was not planned for this event) counts as not
 * run: the dependent is skipped.
 */
export function needsVerdict(needs: readonly string[], latest: ReadonlyMap<string, NeededRun>): NeedsVerdict {
  const waitingFor: string[] = [];
  for (const job of needs) {
    const r = latest.get(job);
    if (!r) return { kind: "skip", reason: `\`${job}\` did not run` };
    if (r.phase !== "completed") {
      waitingFor.push(job);
      continue;
    }
    if (r.conclusion !== "success") return { kind: "skip", reason: skipReason(job, r.conclusion) };
  }
  return waitingFor.length > 0 ? { kind: "wait", waitingFor } : { kind: "start" };
}

/** The waiting reason a queued dependent shows: "Waiting for `build`", "Waiting for `a`, `b` and 3 more". */
export function waitingText(waitingFor: readonly string[]): string {
  const shown = waitingFor.slice(0, 3).map((j) => `\`${j}\``);
  const more = waitingFor.length - shown.length;
  if (more > 0) return `Waiting for ${shown.join(", ")} and ${more} more`;
  if (shown.length <= 1) return `Waiting for ${shown.join("")}`;
  return `Waiting for ${shown.slice(0, -1).join(", ")} and ${shown[shown.length - 1]}`;
}

/**
 * The jobs that (transitively) need any of `roots`, among `jobs` (name → needs). In no
 * particular order; `roots` themselves are not included unless they need each other.
 */
export function dependentsOf(roots: Iterable<string>, jobs: ReadonlyMap<string, readonly string[]>): Set<string> {
  const out = new Set<string>();
  const frontier = [...roots];
  while (frontier.length > 0) {
    const done = frontier.pop()!;
    for (const [name, needs] of jobs) {
      if (!out.has(name) && needs.includes(done)) {
        out.add(name);
        frontier.push(name);
      }
    }
  }
  return out;
}
