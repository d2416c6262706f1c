import type { ExecutorContext } from "./executor-context.js";

/**
 * Stops the run's live-log stream, if one runs, and resolves once it will write nothing more to
 * the LogStore: the final log, written after this, is then never appended to.
 */
export async function stopLogFollow(ctx: ExecutorContext, runId: string): Promise<void> {
  const f = ctx.follows.get(runId);
  if (!f) return;
  const s = f.stream;
  if (s) {
    f.stream = undefined;
    f.lastStop = s.stop();
  }
  await f.lastStop;
}
