import { track, type ExecutorContext } from "./executor-context.js";
import type { LogFollow } from "./log-follow.js";
import { resumeLogFollow } from "./resume-log-follow.js";

/**
 * A viewer watches the run (its run page): copy the running job's output into the LogStore until
 * `signal` aborts or the job ends. Watchers of one run are counted and share one stream: the
 * first starts it (now, or when the pod's main container starts), the last to leave stops it.
 * A stream started after everyone left copies from the start again (it truncates the file).
 */
export function followLog(ctx: ExecutorContext, runId: string, signal: AbortSignal): void {
  if (ctx.closed || signal.aborted || ctx.finishedIds.has(runId)) return;
  let f = ctx.follows.get(runId);
  if (!f) {
    f = { runId, watchers: 0, streamedPods: new Set(), lastStop: Promise.resolve() };
    ctx.follows.set(runId, f);
  }
  const follow: LogFollow = f;
  follow.watchers++;
  signal.addEventListener("abort", () => leave(ctx, follow), { once: true });
  const state = ctx.states.get(runId);
  if (state) resumeLogFollow(ctx, state);
}

function leave(ctx: ExecutorContext, f: LogFollow): void {
  f.watchers--;
  if (f.watchers > 0) return;
  f.streamedPods.clear();
  const s = f.stream;
  if (s) {
    f.stream = undefined;
    f.lastStop = track(ctx, s.stop());
  }
  const stopped = f.lastStop;
  void stopped.then(() => {
    // Forget the run unless someone came back meanwhile (then the entry is theirs).
    if (f.watchers === 0 && f.lastStop === stopped && ctx.follows.get(f.runId) === f) ctx.follows.delete(f.runId);
  });
}
