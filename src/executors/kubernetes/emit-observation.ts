import type { JobObservation } from "../executor.js";
import type { ExecutorContext } from "./executor-context.js";

const MAX_QUEUED = 10_000;

/** Sends an observation to every subscriber, or queues it (bounded) until the first subscribes. */
export function emitObservation(ctx: ExecutorContext, o: JobObservation): void {
  if (ctx.listeners.size === 0) {
    if (ctx.queued.length < MAX_QUEUED) ctx.queued.push(o);
    return;
  }
  for (const l of ctx.listeners) deliverObservation(ctx, l, o);
}

/** Calls one listener; a listener that throws is logged, never allowed to break the watch. */
export function deliverObservation(ctx: ExecutorContext, l: (o: JobObservation) => void, o: JobObservation): void {
  try {
    l(o);
  } catch (err) {
    ctx.d.log?.error(`kubernetes: an observation listener failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}
