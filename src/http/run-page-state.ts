import type { Conclusion } from "../core/status.js";
import { formatDuration } from "../core/format-duration.js";
import type { RunView } from "./http-deps.js";

const STATUS_LABELS: Record<Conclusion, string> = {
  success: "Succeeded",
  failure: "Failed",
  timed_out: "Timed out",
  cancelled: "Cancelled",
  action_required: "Action required",
  neutral: "Neutral",
};

/** What the page shows about a run besides its log; also the JSON of `status` and `end` events. */
export interface RunPageState {
  phase: RunView["phase"];
  /** "Queued", "Running", "Succeeded", "Failed", "Timed out", "Cancelled", ... */
  status: string;
  done: boolean;
  conclusion?: Conclusion;
  exitCode?: number;
  message?: string;
  waitingReason?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** "1m 5s": finished − started (or elapsed so far while running). */
  duration?: string;
}

export function runPageState(run: RunView, now: Date): RunPageState {
  const done = run.phase === "completed";
  const status =
    run.phase === "queued" ? "Queued" : run.phase === "in_progress" ? "Running" : STATUS_LABELS[run.conclusion ?? "failure"];
  let duration: string | undefined;
  if (run.startedAt) {
    const end = run.finishedAt ? Date.parse(run.finishedAt) : done ? NaN : now.getTime();
    const ms = end - Date.parse(run.startedAt);
    if (Number.isFinite(ms)) duration = formatDuration(ms);
  }
  return {
    phase: run.phase,
    status,
    done,
    ...(run.conclusion !== undefined && { conclusion: run.conclusion }),
    ...(run.exitCode !== undefined && { exitCode: run.exitCode }),
    ...(run.message !== undefined && { message: run.message }),
    ...(run.waitingReason !== undefined && run.phase === "queued" && { waitingReason: run.waitingReason }),
    createdAt: run.createdAt,
    ...(run.startedAt !== undefined && { startedAt: run.startedAt }),
    ...(run.finishedAt !== undefined && { finishedAt: run.finishedAt }),
    ...(duration !== undefined && { duration }),
  };
}
