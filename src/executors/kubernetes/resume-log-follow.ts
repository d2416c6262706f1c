import { podLogParams } from "./pod-log-params.js";
import type { ExecutorContext } from "./executor-context.js";
import { openFollowStream } from "./follow-stream.js";
import type { RunState } from "./run-state.js";
import { runningLogTarget } from "./save-run-log.js";

/**
 * Starts the run's live-log stream when someone watches it, none runs, and its newest pod's main
 * container has started (called when a watcher comes and on every pod change of the run). Costs
 * nothing, and makes no request, when nobody watches the run.
 */
export function resumeLogFollow(ctx: ExecutorContext, state: RunState): void {
  const f = ctx.follows.get(state.id);
  if (!f || f.watchers === 0 || f.stream || ctx.closed) return;
  // Held for recover(), ending, or its log already saved early: the final log is (being) written.
  if (state.held || state.finishing || state.earlyLog || ctx.finishedIds.has(state.id)) return;
  const target = runningLogTarget(state);
  if (!target || f.streamedPods.has(target.pod)) return;
  f.streamedPods.add(target.pod);
  const { d } = ctx;
  d.log?.info(`kubernetes: ${state.id}: streaming the live log of ${target.pod} (${f.watchers} watching)`);
  const stream = openFollowStream({
    ...podLogParams(ctx, state, target),
    after: f.lastStop,
    ...(d.log ? { log: d.log } : {}),
  });
  f.stream = stream;
  void stream.done.then(() => {
    if (f.stream === stream) f.stream = undefined;
  });
}
