import type { JobObservation } from "../executor.js";
import { emitObservation } from "./emit-observation.js";
import type { ExecutorContext } from "./executor-context.js";
import { withPod } from "./newest-pod.js";
import type { RunState } from "./run-state.js";

export type Finished = Extract<JobObservation, { phase: "finished" }>;

const MAX_FINISHED_IDS = 50_000;

/** Emits the run's one `finished` (at most once per process) and forgets what is no longer needed. */
export function finishRun(ctx: ExecutorContext, state: RunState, obs: Finished): void {
  if (ctx.finishedIds.has(state.id)) return;
  rememberFinished(ctx, state.id);
  state.token = undefined;
  ctx.d.log?.info(`kubernetes: ${state.id} finished: ${obs.outcome}${obs.exitCode !== undefined ? ` (exit code ${obs.exitCode})` : ""}${obs.message ? `: ${obs.message}` : ""}`);
  emitObservation(ctx, withPod(state, obs));
  if (state.jobGone || !state.job) ctx.states.delete(state.id);
}

/** Remembers (bounded, oldest forgotten first) that a run has finished in this process. */
export function rememberFinished(ctx: ExecutorContext, id: string): void {
  ctx.finishedIds.add(id);
  if (ctx.finishedIds.size > MAX_FINISHED_IDS) {
    const oldest = ctx.finishedIds.values().next().value;
    if (oldest !== undefined) ctx.finishedIds.delete(oldest);
  }
}
