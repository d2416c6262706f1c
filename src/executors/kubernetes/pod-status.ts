import type { V1ContainerStatus, V1Job, V1Pod } from "@kubernetes/client-node";
import { ANNOTATIONS } from "./job-manifest.js";
import { KUEUE_QUEUE_LABEL, QUEUE_ANNOTATION } from "./admission.js";

/**
 * Was this Job left half-started (its creator died after the create, before its token Secret and
 * the start): still suspended, and either held for the Secret in the fair queue or outside any
 * queue. A Job waiting for admission (`waiting`) or for Kueue is not: it is just queued.
 */
export function startUnfinished(job: V1Job): boolean {
  if (job.spec?.suspend !== true) return false;
  const queue = job.metadata?.annotations?.[QUEUE_ANNOTATION];
  return queue === "held" || (queue === undefined && !job.metadata?.labels?.[KUEUE_QUEUE_LABEL]);
}

/** Timestamps are `Date` from typed list calls and strings from watch events: accept both. */
export function toDate(v: unknown): Date | undefined {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v;
  if (typeof v === "string" && v) {
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return undefined;
}

/** A message on one line, cut to `max` characters (`undefined` when there is nothing to say). */
export function shortText(text: string | undefined, max = 300): string | undefined {
  if (!text) return undefined;
  const t = text.trim().replace(/\s+/g, " ");
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

export type Condition = { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: Date | string };

/** The object's condition of this type, when it is `True`. */
export function condition(obj: { status?: { conditions?: Condition[] } } | undefined, type: string): Condition | undefined {
  return obj?.status?.conditions?.find((c) => c.type === type && c.status === "True");
}

/** The pod's `PodScheduled=False` condition: no node fits it (yet). */
export function unschedulable(pod: V1Pod | undefined): Condition | undefined {
  return pod?.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
}

/** The statuses of the pod's init containers, then of its containers. */
export function containerStatuses(pod: V1Pod | undefined): V1ContainerStatus[] {
  return [...(pod?.status?.initContainerStatuses ?? []), ...(pod?.status?.containerStatuses ?? [])];
}

export function containerStatus(pod: V1Pod | undefined, name: string): V1ContainerStatus | undefined {
  return containerStatuses(pod).find((s) => s.name === name);
}

export function hasStarted(s: V1ContainerStatus | undefined): boolean {
  return !!(s?.state?.running || s?.state?.terminated || s?.lastState?.terminated);
}

/** When the pod started doing work: the earliest container start. */
export function startedAt(pod: V1Pod | undefined): Date | undefined {
  let first: Date | undefined;
  for (const s of containerStatuses(pod)) {
    const t = toDate(s.state?.running?.startedAt) ?? toDate(s.state?.terminated?.startedAt) ?? toDate(s.lastState?.terminated?.startedAt);
    if (t && (!first || t < first)) first = t;
  }
  return first;
}

/** One pod of a run as last seen; `gone` once it was deleted. */
export interface SeenPod {
  pod: V1Pod;
  gone: boolean;
}

/** The pod that tells a run's story: a live pod beats a deleted one; then the newest. */
export function newestPod(pods: Iterable<SeenPod>): SeenPod | undefined {
  let best: SeenPod | undefined;
  for (const p of pods) {
    if (!best) best = p;
    else {
      const a = new Date(String(best.pod.metadata?.creationTimestamp ?? 0)).getTime();
      const b = new Date(String(p.pod.metadata?.creationTimestamp ?? 0)).getTime();
      // A live pod beats a deleted one; then the newest.
      if ((best.gone && !p.gone) || (best.gone === p.gone && b > a)) best = p;
    }
  }
  return best;
}

// ---- What the watch caches keep ----------------------------------------------------------------
// A Job or Pod as the API server sends it is 5–15 KB of JSON (managedFields alone are a third of
// it), 20–60 KB once parsed; the run tracker keeps the last one of each per run. It keeps only
// what the classification, the recovery and the queue read (classify-pod.ts, run-tracker.ts,
// admission.ts): a few hundred bytes. Fields it lacks stay `undefined` (never `delete`d: an object
// that loses properties turns into a slower, larger dictionary).

/** Container texts (termination messages) are cut here: classification shortens them to 300 characters anyway. */
const MAX_TEXT = 1024;
/** Labels and annotations kept: YACI's own and Kueue's queue label. */
const KEPT_KEYS = /^(yaci\.dev\/|app\.kubernetes\.io\/managed-by$|kueue\.x-k8s\.io\/queue-name$)/;

type Meta = NonNullable<V1Pod["metadata"]>;
type Status = NonNullable<V1ContainerStatus["state"]>;

function text(t: string | undefined): string | undefined {
  return t === undefined || t.length <= MAX_TEXT ? t : t.slice(0, MAX_TEXT);
}

function keptKeys(m: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!m) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) if (KEPT_KEYS.test(k)) out[k] = v;
  return out;
}

function trimMeta(m: Meta | undefined): Meta {
  if (!m) return {};
  return {
    name: m.name,
    uid: m.uid,
    resourceVersion: m.resourceVersion,
    creationTimestamp: m.creationTimestamp,
    deletionTimestamp: m.deletionTimestamp,
    labels: keptKeys(m.labels),
    annotations: keptKeys(m.annotations),
  };
}

function trimConditions<C extends Condition>(cs: C[] | undefined, types?: readonly string[]): Condition[] | undefined {
  return cs
    ?.filter((c) => !types || types.includes(c.type))
    .map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: text(c.message), lastTransitionTime: c.lastTransitionTime }));
}

/** A container's name, image and memory limit (the OOM message names it). */
function trimContainers(cs: Array<{ name: string; image?: string; resources?: { limits?: Record<string, unknown> } }> | undefined) {
  return cs?.map((c) => ({ name: c.name, image: c.image, resources: c.resources?.limits?.memory === undefined ? undefined : { limits: { memory: c.resources.limits.memory } } }));
}

function trimState(s: Status | undefined): Status | undefined {
  if (!s) return undefined;
  const t = s.terminated;
  return {
    running: s.running ? { startedAt: s.running.startedAt } : undefined,
    terminated: t ? { exitCode: t.exitCode, reason: t.reason, message: text(t.message), startedAt: t.startedAt, finishedAt: t.finishedAt } : undefined,
    waiting: s.waiting ? { reason: s.waiting.reason, message: text(s.waiting.message) } : undefined,
  };
}

function trimStatuses(ss: V1ContainerStatus[] | undefined): V1ContainerStatus[] | undefined {
  return ss?.map((s) => ({ name: s.name, image: s.image, state: trimState(s.state), lastState: s.lastState?.terminated ? { terminated: trimState(s.lastState)!.terminated } : undefined }) as V1ContainerStatus);
}

/** What the caches keep of a Pod: no managedFields, no spec but its containers' names, images and memory limits. */
export function trimPod(pod: V1Pod): V1Pod {
  const { spec, status } = pod;
  return {
    kind: pod.kind,
    metadata: trimMeta(pod.metadata),
    spec: spec ? ({ nodeName: spec.nodeName, initContainers: trimContainers(spec.initContainers), containers: trimContainers(spec.containers) ?? [] } as V1Pod["spec"]) : undefined,
    status: status
      ? {
          phase: status.phase,
          reason: status.reason,
          message: text(status.message),
          conditions: trimConditions(status.conditions, ["PodScheduled", "DisruptionTarget"]),
          initContainerStatuses: trimStatuses(status.initContainerStatuses),
          containerStatuses: trimStatuses(status.containerStatuses),
        }
      : undefined,
  } as V1Pod;
}

/** What the caches keep of a Job: its conditions and counts, suspension, deadline, YACI's annotations, its containers' memory limits. */
export function trimJob(job: V1Job): V1Job {
  const { spec, status } = job;
  const podSpec = spec?.template?.spec;
  return {
    kind: job.kind,
    metadata: trimMeta(job.metadata),
    spec: spec
      ? {
          suspend: spec.suspend,
          activeDeadlineSeconds: spec.activeDeadlineSeconds,
          template: { spec: podSpec ? { initContainers: trimContainers(podSpec.initContainers), containers: trimContainers(podSpec.containers) ?? [] } : undefined },
        }
      : undefined,
    status: status
      ? { active: status.active, succeeded: status.succeeded, failed: status.failed, completionTime: status.completionTime, conditions: trimConditions(status.conditions) }
      : undefined,
  } as V1Job;
}

/** The Job without its spec annotation (the whole RunSpec: the run's script and env), for a run whose spec is known. */
export function withoutSpecAnnotation(job: V1Job): V1Job {
  const annotations = job.metadata?.annotations;
  if (annotations?.[ANNOTATIONS.spec] === undefined) return job;
  const { [ANNOTATIONS.spec]: _spec, ...rest } = annotations;
  return { ...job, metadata: { ...job.metadata, annotations: rest } };
}
