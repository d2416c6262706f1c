import type { ExecutorContext } from "./executor-context.js";
import type { RunState } from "./run-state.js";

/** Arms the run's one timer (replacing any other); it clears itself before calling `fire`. */
export function setRunTimer(ctx: ExecutorContext, state: RunState, ms: number, fire: () => void): void {
  clearRunTimer(ctx, state);
  state.timer = ctx.timers.setTimeout(() => {
    state.timer = undefined;
    fire();
  }, ms);
}

export function clearRunTimer(ctx: ExecutorContext, state: RunState): void {
  if (state.timer !== undefined) ctx.timers.clearTimeout(state.timer);
  state.timer = undefined;
}
