import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { condition } from "./condition.js";
import { containerStatus } from "./container-statuses.js";
import { CHECKOUT_CONTAINER, MAIN_CONTAINER } from "./job-manifest.js";
import { shortText } from "./short-text.js";

const DISRUPTIONS: Record<string, string> = {
  DeletionByTaintManager: "deleted because its node became unavailable",
  EvictionByEvictionAPI: "evicted",
  PreemptionByScheduler: "preempted by a higher-priority pod",
  DeletionByPodGC: "deleted by the pod garbage collector (its node is gone)",
  TerminationByKubelet: "terminated by the kubelet",
};

function memoryLimit(pod: V1Pod | undefined, job: V1Job | undefined, container: string): string | undefined {
  const spec = pod?.spec ?? job?.spec?.template?.spec;
  const c = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].find((x) => x.name === container);
  const v = c?.resources?.limits?.memory;
  return v === undefined ? undefined : String(v);
}

/** Why a failed Job failed, from its pod: the exit code and a sentence for a person. */
export function failureDetails(job: V1Job | undefined, pod: V1Pod | undefined, podGone: boolean): { exitCode?: number; message?: string } {
  const main = containerStatus(pod, MAIN_CONTAINER);
  const term = main?.state?.terminated ?? main?.lastState?.terminated;
  const checkout = containerStatus(pod, CHECKOUT_CONTAINER)?.state?.terminated;
  if (term?.reason === "OOMKilled") {
    const limit = memoryLimit(pod, job, MAIN_CONTAINER);
    return { exitCode: term.exitCode, message: limit ? `out of memory (limit ${limit})` : "out of memory" };
  }
  if (pod?.status?.reason === "Evicted") {
    return { ...(term ? { exitCode: term.exitCode } : {}), message: `evicted: ${shortText(pod.status.message) ?? "the node ran out of resources"}` };
  }
  const disruption = condition(pod, "DisruptionTarget");
  if (disruption) {
    const what = DISRUPTIONS[disruption.reason ?? ""] ?? `stopped (${disruption.reason ?? "disrupted"})`;
    const detail = shortText(disruption.message);
    return { ...(term ? { exitCode: term.exitCode } : {}), message: `the pod was ${what}${detail ? `: ${detail}` : ""}` };
  }
  if (checkout && checkout.exitCode !== 0) {
    if (checkout.reason === "OOMKilled") {
      return { message: `checkout ran out of memory (limit ${memoryLimit(pod, job, CHECKOUT_CONTAINER) ?? "none"})` };
    }
    return { message: `checkout failed${shortText(checkout.message) ? `: ${shortText(checkout.message)}` : ` (exit code ${checkout.exitCode})`}` };
  }
  if (term) {
    return { exitCode: term.exitCode, ...(term.exitCode === 0 ? { message: shortText(term.message) } : {}) };
  }
  if (podGone) return { message: "the pod was deleted before it finished" };
  const failed = condition(job, "Failed") ?? condition(job, "FailureTarget");
  const reason = failed?.reason && failed.reason !== "BackoffLimitExceeded" ? failed.reason : undefined;
  const msg = shortText(pod?.status?.message) ?? shortText(failed?.message);
  return { ...(reason || msg ? { message: [reason, msg].filter(Boolean).join(": ") } : {}) };
}
