import type { V1Job } from "@kubernetes/client-node";
import { evaluateRun } from "./evaluate-run.js";
import { runStateOf, type ExecutorContext } from "./executor-context.js";
import type { WatchEventType } from "./job-informer.js";
import { clearRunTimer } from "./run-timer.js";
import type { RunState } from "./run-state.js";

/** A complete list of the Jobs: the first one holds those from before this process for recover(). */
export function onJobList(ctx: ExecutorContext, items: V1Job[]): void {
  const seen = new Set<string>();
  const first = !ctx.jobsListedOnce;
  ctx.jobsListedOnce = true;
  for (const job of items) {
    const id = job.metadata?.name;
    if (!id) continue;
    seen.add(id);
    const known = ctx.states.get(id);
    const s = runStateOf(ctx, id);
    // Jobs from before this process are reported by recover(), once it is called.
    if (first && ctx.recoverState !== "done" && !s.spec && !known?.job) s.held = true;
    s.job = job;
    s.jobGone = false;
  }
  for (const s of [...ctx.states.values()]) {
    if (s.job && !seen.has(s.id)) jobDeleted(ctx, s);
  }
  for (const s of [...ctx.states.values()]) if (s.job) evaluateRun(ctx, s);
}

export function onJobEvent(ctx: ExecutorContext, type: WatchEventType, job: V1Job): void {
  const id = job.metadata?.name;
  if (!id) return;
  const s = runStateOf(ctx, id);
  s.job = job;
  if (type === "DELETED") jobDeleted(ctx, s);
  else {
    s.jobGone = false;
    evaluateRun(ctx, s);
  }
}

function jobDeleted(ctx: ExecutorContext, s: RunState): void {
  s.jobGone = true;
  if (s.finishing) {
    // Ended and now gone (TTL, our delete): forget it, keep only its id.
    clearRunTimer(ctx, s);
    ctx.states.delete(s.id);
    return;
  }
  evaluateRun(ctx, s);
}
