import type { V1Job, V1Pod } from "@kubernetes/client-node";
import type { Classification } from "./classification.js";
import { classifyJobEnd } from "./classify-job-end.js";
import { unschedulable } from "./condition.js";
import { startedAt } from "./container-statuses.js";
import { formatSeconds } from "./format-seconds.js";
import { imagePullError } from "./image-pull-error.js";
import { shortText } from "./short-text.js";
import { toDate } from "./to-date.js";
import { waitingReason } from "./waiting-reason.js";

export interface ClassifyInput {
  runId: string;
  /** The Job as last seen (kept after it is deleted). `undefined`: not seen yet. */
  job?: V1Job;
  /** The Job was deleted (watch `DELETED`, or missing on a re-list). */
  jobGone?: boolean;
  /** The Job's newest pod as last seen (kept after it is deleted). */
  pod?: V1Pod;
  podGone?: boolean;
  now: Date;
  /** When this process first saw the current image-pull error (`undefined`: now). */
  imagePullErrorSince?: Date;
  pendingTimeoutMs: number;
  imagePullGraceMs: number;
}

/**
 * Turns what Kubernetes shows of one run (its Job and newest pod) into an observation (pure).
 * The Job's conditions decide the end (`Complete`, `Failed`: `DeadlineExceeded` is a timeout);
 * the pod explains it (exit code, OOMKilled, eviction). YACI itself ends a Job whose image cannot
 * be pulled past the grace period, or that waits for a node past the pending timeout.
 */
export function classify(input: ClassifyInput): Classification {
  const { runId, job, pod, now } = input;
  const jobGone = !!input.jobGone;
  const podGone = !!input.podGone;
  const started = startedAt(pod);
  const base = { runId, ...(started ? { startedAt: started } : {}) };

  const ended = classifyJobEnd(job, pod, podGone, now, base);
  if (ended) return ended;
  if (jobGone) {
    return {
      kind: "finish",
      observation: { ...base, phase: "finished", outcome: "cancelled", finishedAt: now, message: "the Kubernetes Job was deleted" },
      deleteJob: false,
      log: undefined,
    };
  }

  const pull = podGone ? undefined : imagePullError(pod);
  let recheckAt: Date | undefined;
  if (pull) {
    const since = input.imagePullErrorSince ?? now;
    const deadline = new Date(since.getTime() + input.imagePullGraceMs);
    if (now >= deadline) {
      return {
        kind: "finish",
        observation: {
          ...base,
          phase: "finished",
          outcome: "failed",
          finishedAt: now,
          message: `image ${pull.image} could not be pulled (${pull.reason}${shortText(pull.message, 200) ? `: ${shortText(pull.message, 200)}` : ""})`,
        },
        deleteJob: true,
        log: undefined,
      };
    }
    recheckAt = deadline;
  }

  const scheduled = !!pod && !podGone && !unschedulable(pod) && !!pod.spec?.nodeName;
  const waitingForNode = !started && !scheduled;
  if (waitingForNode) {
    const created = toDate(job?.metadata?.creationTimestamp);
    if (created) {
      const deadline = new Date(created.getTime() + input.pendingTimeoutMs);
      const reason = unschedulable(pod);
      if (now >= deadline) {
        const limit = formatSeconds(input.pendingTimeoutMs / 1000);
        const message =
          pod && !podGone
            ? `waited more than ${limit} for a node: ${shortText(reason?.message) ?? "not scheduled"}`
            : `no pod was created within ${limit} (a ResourceQuota, LimitRange or Pod Security admission may refuse it: kubectl describe job ${runId})`;
        return {
          kind: "finish",
          observation: { ...base, phase: "finished", outcome: "failed", finishedAt: now, message },
          deleteJob: true,
          log: undefined,
        };
      }
      recheckAt = recheckAt && recheckAt < deadline ? recheckAt : deadline;
    }
  }

  if (started) {
    return { kind: "observe", observation: { runId, phase: "running", startedAt: started }, ...(recheckAt ? { recheckAt } : {}), ...(pull ? { imagePullError: pull } : {}) };
  }
  return {
    kind: "observe",
    observation: { runId, phase: "pending", ...waitingReason(pod, podGone, pull) },
    ...(recheckAt ? { recheckAt } : {}),
    ...(pull ? { imagePullError: pull } : {}),
  };
}
