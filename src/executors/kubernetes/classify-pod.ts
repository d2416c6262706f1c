import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { formatDuration } from "../../core/format-duration.js";
import type { JobObservation } from "../executor.js";
import { CHECKOUT_CONTAINER, MAIN_CONTAINER } from "./job-manifest.js";
import { condition, containerStatus, containerStatuses, hasStarted, shortText, startedAt, toDate, unschedulable, newestPod, type SeenPod } from "./pod-status.js";

/** What `classify` decides for one run: keep observing it, or it has finished. */
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

type FinishClassification = Extract<Classification, { kind: "finish" }>;
export type ObserveClassification = Extract<Classification, { kind: "observe" }>;

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
  const hopeless = pull && permanentPullError(pull);
  if (pull && hopeless) {
    // Waiting cannot help (the image does not exist, access is denied, the name is invalid): fail now.
    return {
      kind: "finish",
      observation: { ...base, phase: "finished", outcome: "failed", finishedAt: now, message: `image ${pull.image} ${hopeless} (${pull.reason}${shortText(pull.message, 300) ? `: ${shortText(pull.message, 300)}` : ""})` },
      deleteJob: true,
      log: undefined,
    };
  }
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
        const limit = formatDuration(input.pendingTimeoutMs, "compact");
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

/** Since when the current image-pull error (pod and container) lasts: the pod shows no timestamp for it. */
export type ImagePullSince = { key: string; since: Date };

/** A run as the tracker knows it: its Job and pods as last seen, and its image-pull tracking. */
export interface RunView {
  id: string;
  job?: V1Job;
  jobGone: boolean;
  pods: ReadonlyMap<string, SeenPod>;
  imagePull?: ImagePullSince;
}

/**
 * Classifies a run from its newest pod (pure), and says since when its current image-pull error
 * lasts: the `imagePull` to keep for the next call (`undefined` once there is none).
 */
export function classifyRun(
  run: RunView,
  now: Date,
  limits: Pick<ClassifyInput, "pendingTimeoutMs" | "imagePullGraceMs">,
): { classification: Classification; imagePull?: ImagePullSince } {
  const p = newestPod(run.pods.values());
  const podGone = p?.gone ?? false;
  const pull = podGone ? undefined : imagePullError(p?.pod);
  let imagePull: ImagePullSince | undefined;
  if (pull) {
    const key = `${p?.pod.metadata?.name}/${pull.container}`;
    imagePull = run.imagePull?.key === key ? run.imagePull : { key, since: now };
  }
  const classification = classify({
    runId: run.id,
    job: run.job,
    jobGone: run.jobGone,
    pod: p?.pod,
    podGone,
    now,
    imagePullErrorSince: imagePull?.since,
    pendingTimeoutMs: limits.pendingTimeoutMs,
    imagePullGraceMs: limits.imagePullGraceMs,
  });
  return { classification, ...(imagePull ? { imagePull } : {}) };
}

/** What makes an observation new: the same key twice in a row is emitted once. */
export function observationKey(o: JobObservation): string {
  switch (o.phase) {
    case "pending":
      return `pending|${o.waitingReason ?? ""}`;
    case "running":
      return `running|${o.startedAt.getTime()}`;
    case "finished":
      return `finished|${o.outcome}`;
  }
}

/** The main container of the run's newest pod while it lives and once it has started: its log can be read now. */
export function liveLogTarget(p: SeenPod | undefined): { pod: string; container: string } | undefined {
  const name = p?.pod.metadata?.name;
  if (!p || p.gone || !name) return undefined;
  const main = p.pod.status?.containerStatuses?.find((s) => s.name === MAIN_CONTAINER);
  return main?.state?.running || main?.state?.terminated ? { pod: name, container: MAIN_CONTAINER } : undefined;
}

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
function classifyJobEnd(
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
        message: limit ? `ran longer than its timeout of ${formatDuration(limit * 1000, "compact")}` : "ran longer than its timeout",
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
function failureDetails(job: V1Job | undefined, pod: V1Pod | undefined, podGone: boolean): { exitCode?: number; message?: string } {
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

/** Waiting reasons that mean the image cannot be pulled (after the grace period: the job fails). */
const IMAGE_PULL_ERRORS = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable"]);

export interface ImagePullError {
  container: string;
  image: string;
  reason: string;
  message?: string;
}

/**
 * Registry answers that waiting will not change: the reference is invalid, the image or tag does not
 * exist, or the registry refuses this cluster. Checked against the kubelet's message (containerd and
 * Docker wordings), after ruling out the errors that pass (timeouts, 5xx, rate limits, network).
 */
const TRANSIENT_PULL = /toomanyrequests|too many requests|rate limit|\b429\b|\b5\d\d\b|service unavailable|bad gateway|gateway time-?out|internal server error|timeout|timed out|deadline exceeded|connection (refused|reset)|i\/o timeout|temporary failure|no such host|tls handshake|EOF\b/i;
const NOT_FOUND_PULL = /code = NotFound|manifest unknown|: not found\b|\bnot found: manifest|name unknown|repository does not exist|no such image/i;
const DENIED_PULL = /pull access denied|insufficient_scope|authorization failed|\bunauthorized\b|authentication required|denied: requested access|code = PermissionDenied|403 Forbidden/i;
const INVALID_PULL = /invalid reference format|InvalidImageName|couldn't parse image (reference|name)/i;

/** A sentence saying why the pull can never succeed, or `undefined` when it may (keep the grace period). */
export function permanentPullError(e: ImagePullError): string | undefined {
  if (e.reason === "InvalidImageName") return "is not a valid image reference";
  if (e.reason === "ErrImageNeverPull") return "is not on the node and its pull policy is Never";
  const m = e.message ?? "";
  if (INVALID_PULL.test(m)) return "is not a valid image reference";
  if (TRANSIENT_PULL.test(m) && !/code = NotFound|manifest unknown/i.test(m)) return undefined;
  if (DENIED_PULL.test(m)) return "cannot be pulled: the registry denies access (it does not exist, or it is private and YACI_IMAGE_PULL_SECRETS lacks its credentials)";
  if (NOT_FOUND_PULL.test(m)) return "does not exist in its registry";
  return undefined;
}

/** The first container of the pod that cannot pull its image, if any. */
export function imagePullError(pod: V1Pod | undefined): ImagePullError | undefined {
  for (const s of containerStatuses(pod)) {
    const w = s.state?.waiting;
    if (w?.reason && IMAGE_PULL_ERRORS.has(w.reason)) {
      const specImage = [...(pod?.spec?.initContainers ?? []), ...(pod?.spec?.containers ?? [])].find((c) => c.name === s.name)?.image;
      return { container: s.name, image: specImage ?? s.image, reason: w.reason, ...(w.message ? { message: w.message } : {}) };
    }
  }
  return undefined;
}

/** Why a pending pod waits, for a person (nothing for the ordinary init/creation steps). */
function waitingReason(pod: V1Pod | undefined, podGone: boolean, pull: ImagePullError | undefined): { waitingReason?: string } {
  if (!pod || podGone) return {};
  const u = unschedulable(pod);
  if (u) return { waitingReason: `unschedulable: ${shortText(u.message) ?? u.reason ?? "no node fits"}` };
  if (pull) return { waitingReason: `image ${pull.image}: ${pull.reason}` };
  for (const s of containerStatuses(pod)) {
    const w = s.state?.waiting;
    if (w?.reason && !["PodInitializing", "ContainerCreating"].includes(w.reason)) {
      return { waitingReason: `${w.reason}${shortText(w.message) ? `: ${shortText(w.message)}` : ""}` };
    }
  }
  return {};
}
