import { classifyRunState } from "./classify-run-state.js";
import { deleteJob } from "./delete-job.js";
import { evaluateRun } from "./evaluate-run.js";
import { runStateOf, track, type ExecutorContext } from "./executor-context.js";
import { finishRun, type Finished } from "./finish-run.js";
import { clearRunTimer } from "./run-timer.js";
import { runningLogTarget, saveRunLog } from "./save-run-log.js";
import { stopLogFollow } from "./stop-log-follow.js";

/**
 * Cancels the run: saves its log (with a note), deletes its Job, then emits `finished:
 * cancelled`. A run that already ended on its own is reported as it ended instead.
 */
export async function cancelRun(ctx: ExecutorContext, runId: string): Promise<void> {
  if (ctx.finishedIds.has(runId)) return;
  const state = runStateOf(ctx, runId);
  if (state.finishing) return;
  state.held = false;
  const finishedAt = ctx.now();
  const c = classifyRunState(ctx, state, finishedAt);
  if (c.kind === "finish" && c.observation.outcome !== "cancelled") {
    // It ended on its own before the cancel arrived: report what really happened.
    evaluateRun(ctx, state);
    return;
  }
  state.finishing = true;
  state.cancelRequested = true;
  clearRunTimer(ctx, state);
  const startedAt = c.observation.phase === "pending" ? undefined : c.observation.startedAt;
  const obs: Finished = { runId, phase: "finished", outcome: "cancelled", finishedAt, message: "cancelled", ...(startedAt ? { startedAt } : {}) };
  await track(
    ctx,
    (async () => {
      await stopLogFollow(ctx, runId);
      await saveRunLog(ctx, state, c.kind === "finish" ? c.log : runningLogTarget(state), "yaci: cancelled\n");
      try {
        await deleteJob(ctx, runId);
      } catch (err) {
        state.finishing = false;
        state.cancelRequested = false;
        evaluateRun(ctx, state);
        throw err;
      }
      finishRun(ctx, state, obs);
    })(),
  );
}
