import type { V1Job, V1Pod } from "@kubernetes/client-node";
import type { FinishClassification } from "./classification.js";
import { condition } from "./condition.js";
import { containerStatus, hasStarted } from "./container-statuses.js";
import { failureDetails } from "./failure-details.js";
import { formatSeconds } from "./format-seconds.js";
import { CHECKOUT_CONTAINER, MAIN_CONTAINER } from "./job-manifest.js";
import { toDate } from "./to-date.js";

function finishedAt(job: V1Job | undefined, pod: V1Pod | undefined, now: Date): Date {
  const c = condition(job, "Complete") ?? condition(job, "Failed") ?? condition(job, "FailureTarget");
  return toDate(job?.status?.completionTime) ?? toDate(c?.lastTransitionTime) ?? toDate(containerStatus(pod, MAIN_CONTAINER)?.state?.terminated?.finishedAt) ?? now;
}

function logTarget(pod: V1Pod | undefined, podGone: boolean): { pod: string; container: string } | undefined {
  const name = pod?.metadata?.name;
  if (!name || podGone) return undefined;
  if (hasStarted(containerStatus(pod, MAIN_CONTAINER))) return { pod: name, container: MAIN_CONTAINER };
  const checkout = containerStatus(pod, CHECKOUT_CONTAINER);
  if (checkout?.state?.terminated && checkout.state.terminated.exitCode !== 0) return { pod: name, container: CHECKOUT_CONTAINER };
  return undefined;
}

/** The Job ended but the pod's final status has not arrived yet (the Job and Pod watches are separate streams). */
function lagging(job: V1Job | undefined, pod: V1Pod | undefined, podGone: boolean): boolean {
  // No pod seen yet although the Job ran one: its events are on their way.
  if (!pod) return !podGone && (job?.status?.failed ?? 0) + (job?.status?.succeeded ?? 0) > 0;
  if (podGone || pod.metadata?.deletionTimestamp) return false;
  const phase = pod.status?.phase;
  return phase !== "Succeeded" && phase !== "Failed";
}

/**
 * The end Kubernetes decided, from the Job's conditions: `Complete`, or `Failed` (`DeadlineExceeded`
 * is a timeout), explained by the pod. `undefined` while the Job has not ended.
 */
export function classifyJobEnd(
  job: V1Job | undefined,
  pod: V1Pod | undefined,
  podGone: boolean,
  now: Date,
  base: { runId: string; startedAt?: Date },
): FinishClassification | undefined {
  if (condition(job, "Complete")) {
    return {
      kind: "finish",
      observation: { ...base, phase: "finished", outcome: "succeeded", exitCode: 0, finishedAt: finishedAt(job, pod, now) },
      deleteJob: false,
      log: logTarget(pod, podGone),
      podLagging: lagging(job, pod, podGone),
    };
  }
  // FailureTarget (Kubernetes ≥ 1.31) comes first, while the pods are still being stopped:
  // deciding there leaves time to read their log.
  const failed = condition(job, "Failed") ?? condition(job, "FailureTarget");
  if (!failed) return undefined;
  if (failed.reason === "DeadlineExceeded") {
    const limit = job?.spec?.activeDeadlineSeconds;
    return {
      kind: "finish",
      observation: {
        ...base,
        phase: "finished",
        outcome: "timed_out",
        finishedAt: finishedAt(job, pod, now),
        message: limit ? `ran longer than its timeout of ${formatSeconds(limit)}` : "ran longer than its timeout",
      },
      deleteJob: false,
      log: logTarget(pod, podGone),
      podLagging: lagging(job, pod, podGone),
    };
  }
  const d = failureDetails(job, pod, podGone);
  return {
    kind: "finish",
    observation: {
      ...base,
      phase: "finished",
      outcome: "failed",
      finishedAt: finishedAt(job, pod, now),
      ...(d.exitCode !== undefined ? { exitCode: d.exitCode } : {}),
      ...(d.message ? { message: d.message } : {}),
    },
    deleteJob: false,
    log: logTarget(pod, podGone),
    podLagging: lagging(job, pod, podGone),
  };
}
