import { apiMessage } from "./api-error.js";
import type { ObserveClassification } from "./classification.js";
import { classifyRunState } from "./classify-run-state.js";
import { deleteJob } from "./delete-job.js";
import { emitObservation } from "./emit-observation.js";
import { track, type ExecutorContext } from "./executor-context.js";
import { finishRun } from "./finish-run.js";
import { withPod } from "./newest-pod.js";
import { observationKey } from "./observation-key.js";
import { clearRunTimer, setRunTimer } from "./run-timer.js";
import type { RunState } from "./run-state.js";
import { saveLogEarlyIfPodIsGoing, saveRunLog } from "./save-run-log.js";
import { stopLogFollow } from "./stop-log-follow.js";

/** How long to wait for a pod's final status after its Job ended (two watch streams, any order). */
const POD_LAG_WAIT_MS = 10_000;

/**
 * Classifies the run as known now and delivers the result: a new pending/running observation is
 * emitted (once per change); an end saves the log, deletes the Job when YACI ends it, then emits
 * `finished`. Runs held for `recover()`, finishing or finished are left alone.
 */
export function evaluateRun(ctx: ExecutorContext, state: RunState): void {
  if (ctx.closed || state.held || state.finishing || ctx.finishedIds.has(state.id)) return;
  if (!state.job && !state.jobGone) return;
  if (!state.job && state.jobGone && !state.spec) return;
  const c = classifyRunState(ctx, state, ctx.now());
  if (c.kind === "observe") {
    scheduleRecheck(ctx, state, c);
    saveLogEarlyIfPodIsGoing(ctx, state);
    const key = observationKey(c.observation);
    if (key !== state.lastKey) {
      state.lastKey = key;
      emitObservation(ctx, withPod(state, c.observation));
    }
    return;
  }
  if (c.podLagging && !state.jobGone) {
    const now = ctx.now().getTime();
    state.podLagSince ??= now;
    const left = state.podLagSince + POD_LAG_WAIT_MS - now;
    if (left > 0) {
      setRunTimer(ctx, state, left + 5, () => evaluateRun(ctx, state));
      return;
    }
  }
  state.finishing = true;
  clearRunTimer(ctx, state);
  void track(
    ctx,
    (async () => {
      // The live-log copy stops before the final log rewrites the file: it never appends after it.
      await stopLogFollow(ctx, state.id);
      if (c.deleteJob) {
        await deleteJob(ctx, state.id).catch((err) => ctx.d.log?.warn(`kubernetes: could not delete Job ${state.id}: ${apiMessage(err)}`));
      }
      if (state.earlyLog) await state.earlyLog;
      else await saveRunLog(ctx, state, c.log, c.observation.message && !c.log ? `yaci: ${c.observation.message}\n` : "");
      finishRun(ctx, state, c.observation);
    })(),
  ).catch((err) => ctx.d.log?.error(`kubernetes: finishing ${state.id} failed: ${apiMessage(err)}`));
}

/** Evaluates the run again when its classification says something will change by itself. */
export function scheduleRecheck(ctx: ExecutorContext, state: RunState, c: ObserveClassification): void {
  clearRunTimer(ctx, state);
  if (!c.recheckAt || ctx.closed) return;
  const ms = Math.max(0, c.recheckAt.getTime() - ctx.now().getTime()) + 5;
  setRunTimer(ctx, state, ms, () => evaluateRun(ctx, state));
}
