import type { Classification } from "./classification.js";
import { classify } from "./classify-pod.js";
import { imagePullError } from "./image-pull-error.js";
import type { ExecutorContext } from "./executor-context.js";
import { newestPod } from "./newest-pod.js";
import type { RunState } from "./run-state.js";

/** Classifies the run as known now, tracking since when its current image-pull error lasts. */
export function classifyRunState(ctx: ExecutorContext, state: RunState, now: Date): Classification {
  const p = newestPod(state);
  const input = {
    runId: state.id,
    job: state.job,
    jobGone: state.jobGone,
    pod: p?.pod,
    podGone: p?.gone ?? false,
    now,
    imagePullErrorSince: undefined as Date | undefined,
    pendingTimeoutMs: ctx.d.options.pendingTimeoutMs,
    imagePullGraceMs: ctx.d.options.imagePullGraceMs,
  };
  // Track since when the current image-pull error lasts (the pod shows no timestamp for it).
  const pull = input.podGone ? undefined : imagePullError(input.pod);
  if (pull) {
    const key = `${input.pod?.metadata?.name}/${pull.container}`;
    if (state.imagePull?.key !== key) state.imagePull = { key, since: now };
    input.imagePullErrorSince = state.imagePull.since;
  } else {
    state.imagePull = undefined;
  }
  return classify(input);
}
