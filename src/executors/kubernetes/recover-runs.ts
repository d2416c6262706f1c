import type { RecoveredJob } from "../executor.js";
import { apiMessage } from "./api-error.js";
import { classifyRunState } from "./classify-run-state.js";
import { deleteJob } from "./delete-job.js";
import { scheduleRecheck } from "./evaluate-run.js";
import type { ClusterWatches } from "./cluster-watches.js";
import type { ExecutorContext } from "./executor-context.js";
import { rememberFinished } from "./finish-run.js";
import { ANNOTATIONS, specFromJob } from "./job-manifest.js";
import { observationKey } from "./observation-key.js";
import { resumeLogFollow } from "./resume-log-follow.js";
import { saveRunLog } from "./save-run-log.js";

/**
 * Waits (bounded) for the first list of Jobs and Pods, then reports every Job held since that
 * list, rebuilt from its spec annotation: where it is now, or how it ended (its log saved and,
 * when YACI ends it, its Job deleted, unless already reported).
 */
export async function recoverRuns(ctx: ExecutorContext, watches: ClusterWatches): Promise<RecoveredJob[]> {
  const { d } = ctx;
  if (ctx.recoverState === "not-called") ctx.recoverState = "waiting";
  const wait = d.recoverWaitMs ?? 15_000;
  let timer: unknown;
  const synced = await Promise.race([
    Promise.all([watches.jobs.synced, watches.pods.synced]).then(() => true),
    new Promise<boolean>((resolve) => (timer = ctx.timers.setTimeout(() => resolve(false), wait))),
  ]);
  ctx.timers.clearTimeout(timer);
  ctx.recoverState = "done";
  if (!synced) {
    d.log?.warn(
      `kubernetes: the cluster did not answer within ${Math.round(wait / 1000)}s (${watches.jobs.lastError ?? watches.pods.lastError ?? "no answer"}); ` +
        `Jobs left by a previous run will be reported when it does`,
    );
  }
  const out: RecoveredJob[] = [];
  const now = ctx.now();
  for (const state of [...ctx.states.values()]) {
    if (!state.held) continue;
    state.held = false;
    const job = state.job;
    const spec = job ? specFromJob(job) : undefined;
    if (!spec) {
      d.log?.warn(`kubernetes: Job ${state.id} has no readable ${ANNOTATIONS.spec} annotation: ignoring it`);
      continue;
    }
    state.spec = spec;
    const reported = job?.metadata?.annotations?.[ANNOTATIONS.reported] === "true";
    const c = classifyRunState(ctx, state, now);
    if (c.kind === "finish") {
      state.finishing = true;
      rememberFinished(ctx, state.id);
      if (!reported) {
        if (c.deleteJob) await deleteJob(ctx, state.id).catch((err) => d.log?.warn(`kubernetes: could not delete Job ${state.id}: ${apiMessage(err)}`));
        if ((await d.logStore.size(state.id)) === 0) await saveRunLog(ctx, state, c.log, c.observation.message && !c.log ? `yaci: ${c.observation.message}\n` : "");
      }
      out.push({ spec, observation: c.observation, ...(reported ? { reported: true } : {}) });
      if (state.jobGone) ctx.states.delete(state.id);
    } else {
      state.lastKey = observationKey(c.observation);
      scheduleRecheck(ctx, state, c);
      resumeLogFollow(ctx, state); // someone may have opened its page while it was held
      out.push({ spec, observation: c.observation });
    }
  }
  return out;
}
