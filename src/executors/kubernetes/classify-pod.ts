import type { V1ContainerStatus, V1Job, V1Pod } from "@kubernetes/client-node";
import type { JobObservation } from "../executor.js";
import { CHECKOUT_CONTAINER, MAIN_CONTAINER } from "./job-manifest.js";

/** Waiting reasons that mean the image cannot be pulled (after the grace period: the job fails). */
export const IMAGE_PULL_ERRORS = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable"]);

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

export interface ImagePullError {
  container: string;
  image: string;
  reason: string;
  message?: string;
}

export type Classification =
  | {
      kind: "observe";
      observation: Extract<JobObservation, { phase: "pending" | "running" }>;
      /** Classify again at this time even if nothing changes (a grace period or timeout ends). */
      recheckAt?: Date;
      /** Present while a container cannot pull its image: the caller tracks since when. */
      imagePullError?: ImagePullError;
    }
  | {
      kind: "finish";
      observation: Extract<JobObservation, { phase: "finished" }>;
      /** YACI ends the Job itself (image pull failure, pending timeout): delete it. */
      deleteJob: boolean;
      /** The container whose log to save, when it ran. */
      log?: { pod: string; container: string };
      /**
       * The Job has ended but its pod, as last seen, still looks alive: Jobs and Pods come on two
       * watch streams, so the pod's final status may still be on its way. Worth a short wait.
       */
      podLagging?: boolean;
    };

type Condition = { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: Date | string };

/** Timestamps are `Date` from typed list calls and strings from watch events: accept both. */
export function toDate(v: unknown): Date | undefined {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v;
  if (typeof v === "string" && v) {
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return undefined;
}

function condition(obj: { status?: { conditions?: Condition[] } } | undefined, type: string): Condition | undefined {
  return obj?.status?.conditions?.find((c) => c.type === type && c.status === "True");
}

function statuses(pod: V1Pod | undefined): V1ContainerStatus[] {
  return [...(pod?.status?.initContainerStatuses ?? []), ...(pod?.status?.containerStatuses ?? [])];
}

function containerStatus(pod: V1Pod | undefined, name: string): V1ContainerStatus | undefined {
  return statuses(pod).find((s) => s.name === name);
}

function hasStarted(s: V1ContainerStatus | undefined): boolean {
  return !!(s?.state?.running || s?.state?.terminated || s?.lastState?.terminated);
}

/** When the pod started doing work: the earliest container start. */
function startedAt(pod: V1Pod | undefined): Date | undefined {
  let first: Date | undefined;
  for (const s of statuses(pod)) {
    const t = toDate(s.state?.running?.startedAt) ?? toDate(s.state?.terminated?.startedAt) ?? toDate(s.lastState?.terminated?.startedAt);
    if (t && (!first || t < first)) first = t;
  }
  return first;
}

function finishedAt(job: V1Job | undefined, pod: V1Pod | undefined, now: Date): Date {
  const c = condition(job, "Complete") ?? condition(job, "Failed") ?? condition(job, "FailureTarget");
  return toDate(job?.status?.completionTime) ?? toDate(c?.lastTransitionTime) ?? toDate(containerStatus(pod, MAIN_CONTAINER)?.state?.terminated?.finishedAt) ?? now;
}

export function imagePullError(pod: V1Pod | undefined): ImagePullError | undefined {
  for (const s of statuses(pod)) {
    const w = s.state?.waiting;
    if (w?.reason && IMAGE_PULL_ERRORS.has(w.reason)) {
      const specImage = [...(pod?.spec?.initContainers ?? []), ...(pod?.spec?.containers ?? [])].find((c) => c.name === s.name)?.image;
      return { container: s.name, image: specImage ?? s.image, reason: w.reason, ...(w.message ? { message: w.message } : {}) };
    }
  }
  return undefined;
}

function memoryLimit(pod: V1Pod | undefined, job: V1Job | undefined, container: string): string | undefined {
  const spec = pod?.spec ?? job?.spec?.template?.spec;
  const c = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].find((x) => x.name === container);
  const v = c?.resources?.limits?.memory;
  return v === undefined ? undefined : String(v);
}

function short(text: string | undefined, max = 300): string | undefined {
  if (!text) return undefined;
  const t = text.trim().replace(/\s+/g, " ");
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

const DISRUPTIONS: Record<string, string> = {
  DeletionByTaintManager: "deleted because its node became unavailable",
  EvictionByEvictionAPI: "evicted",
  PreemptionByScheduler: "preempted by a higher-priority pod",
  DeletionByPodGC: "deleted by the pod garbage collector (its node is gone)",
  TerminationByKubelet: "terminated by the kubelet",
};

/** Why a failed Job failed, from its pod: the exit code and a sentence for a person. */
function failureDetails(job: V1Job | undefined, pod: V1Pod | undefined, podGone: boolean): { exitCode?: number; message?: string } {
  const main = containerStatus(pod, MAIN_CONTAINER);
  const term = main?.state?.terminated ?? main?.lastState?.terminated;
  const checkout = containerStatus(pod, CHECKOUT_CONTAINER)?.state?.terminated;
  if (term?.reason === "OOMKilled") {
    const limit = memoryLimit(pod, job, MAIN_CONTAINER);
    return { exitCode: term.exitCode, message: limit ? `out of memory (limit ${limit})` : "out of memory" };
  }
  if (pod?.status?.reason === "Evicted") {
    return { ...(term ? { exitCode: term.exitCode } : {}), message: `evicted: ${short(pod.status.message) ?? "the node ran out of resources"}` };
  }
  const disruption = condition(pod, "DisruptionTarget");
  if (disruption) {
    const what = DISRUPTIONS[disruption.reason ?? ""] ?? `stopped (${disruption.reason ?? "disrupted"})`;
    const detail = short(disruption.message);
    return { ...(term ? { exitCode: term.exitCode } : {}), message: `the pod was ${what}${detail ? `: ${detail}` : ""}` };
  }
  if (checkout && checkout.exitCode !== 0) {
    if (checkout.reason === "OOMKilled") {
      return { message: `checkout ran out of memory (limit ${memoryLimit(pod, job, CHECKOUT_CONTAINER) ?? "none"})` };
    }
    return { message: `checkout failed${short(checkout.message) ? `: ${short(checkout.message)}` : ` (exit code ${checkout.exitCode})`}` };
  }
  if (term) {
    return { exitCode: term.exitCode, ...(term.exitCode === 0 ? { message: short(term.message) } : {}) };
  }
  if (podGone) return { message: "the pod was deleted before it finished" };
  const failed = condition(job, "Failed") ?? condition(job, "FailureTarget");
  const reason = failed?.reason && failed.reason !== "BackoffLimitExceeded" ? failed.reason : undefined;
  const msg = short(pod?.status?.message) ?? short(failed?.message);
  return { ...(reason || msg ? { message: [reason, msg].filter(Boolean).join(": ") } : {}) };
}

function logTarget(pod: V1Pod | undefined, podGone: boolean): { pod: string; container: string } | undefined {
  const name = pod?.metadata?.name;
  if (!name || podGone) return undefined;
  if (hasStarted(containerStatus(pod, MAIN_CONTAINER))) return { pod: name, container: MAIN_CONTAINER };
  const checkout = containerStatus(pod, CHECKOUT_CONTAINER);
  if (checkout?.state?.terminated && checkout.state.terminated.exitCode !== 0) return { pod: name, container: CHECKOUT_CONTAINER };
  return undefined;
}

function formatSeconds(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.round((seconds % 60) * 10) / 10;
  return `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${s ? `${s}s` : ""}` || "0s";
}

function lagging(pod: V1Pod | undefined, podGone: boolean): boolean {
  if (!pod || podGone || pod.metadata?.deletionTimestamp) return false;
  const phase = pod.status?.phase;
  return phase !== "Succeeded" && phase !== "Failed";
}

function unschedulable(pod: V1Pod | undefined): Condition | undefined {
  return pod?.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
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

  if (condition(job, "Complete")) {
    return {
      kind: "finish",
      observation: { ...base, phase: "finished", outcome: "succeeded", exitCode: 0, finishedAt: finishedAt(job, pod, now) },
      deleteJob: false,
      log: logTarget(pod, podGone),
      podLagging: lagging(pod, podGone),
    };
  }
  // FailureTarget (Kubernetes ≥ 1.31) comes first, while the pods are still being stopped:
  // deciding there leaves time to read their log.
  const failed = condition(job, "Failed") ?? condition(job, "FailureTarget");
  if (failed) {
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
        podLagging: lagging(pod, podGone),
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
      podLagging: lagging(pod, podGone),
    };
  }
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
          message: `image ${pull.image} could not be pulled (${pull.reason}${short(pull.message, 200) ? `: ${short(pull.message, 200)}` : ""})`,
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
            ? `waited more than ${limit} for a node: ${short(reason?.message) ?? "not scheduled"}`
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

function waitingReason(pod: V1Pod | undefined, podGone: boolean, pull: ImagePullError | undefined): { waitingReason?: string } {
  if (!pod || podGone) return {};
  const u = unschedulable(pod);
  if (u) return { waitingReason: `unschedulable: ${short(u.message) ?? u.reason ?? "no node fits"}` };
  if (pull) return { waitingReason: `image ${pull.image}: ${pull.reason}` };
  for (const s of statuses(pod)) {
    const w = s.state?.waiting;
    if (w?.reason && !["PodInitializing", "ContainerCreating"].includes(w.reason)) {
      return { waitingReason: `${w.reason}${short(w.message) ? `: ${short(w.message)}` : ""}` };
    }
  }
  return {};
}
