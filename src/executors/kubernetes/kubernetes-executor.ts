import { randomUUID } from "node:crypto";
import { Admission, KUEUE_QUEUE_LABEL, QUEUE_ANNOTATION, queueJob, queueSettingsFromEnv, type QueueSettings, type QueueState } from "./admission.js";
import { BatchV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Job, type V1Pod } from "@kubernetes/client-node";
import { realTimers, type Timers } from "../../clock.js";
import type { RunSpec } from "../../core/run.js";
import { httpStatusOf } from "../../http-status.js";
import type { Logger } from "../../logger.js";
import type { LogStore, LogTail } from "../../logs/log-store.js";
import type { CheckoutTokenSource, Executor, JobObservation, RecoveredJob } from "../executor.js";
import { apiMessage, retryTransient } from "./api-error.js";
import { ANNOTATIONS, buildJobManifest, buildSecretManifest, LABEL_SELECTOR, type ManifestOptions } from "./job-manifest.js";
import { ListWatch } from "./list-watch.js";
import { kubernetesOptionsFromEnv, loadKubeConfig, shareConnections, type KubernetesOptions } from "./options.js";
import { trimJob, trimPod } from "./pod-status.js";
import { RunLogs } from "./run-logs.js";
import { RunTracker } from "./run-tracker.js";
import { KubeSecretStore } from "../../secrets/kube-store.js";

export interface KubernetesExecutorDeps {
  kc: KubeConfig;
  namespace: string;
  options: KubernetesOptions;
  logStore: LogStore;
  checkoutToken: CheckoutTokenSource;
  /** GitHub's REST base URL, for the checkout tarball. */
  githubApiUrl: string;
  log?: Logger;
  /** Injectable clock and timers (grace periods, pending timeout): tests use small durations. */
  now?: () => Date;
  timers?: Timers;
  /** How long `recover()` waits for the first list before it gives up (default 15 s). */
  recoverWaitMs?: number;
  /** Retry delays of the list/watch loop and of failed requests (default 1 s → 30 s, with jitter). */
  backoff?: { initialMs: number; maxMs: number };
  /** Jitter source for retry delays (tests: a constant). */
  random?: () => number;
  /** The queue (admission.ts); without it each Job starts as soon as it exists. */
  queue?: QueueSettings;
}

/** Marks a Job with the call that created it, so a retry that meets 409 knows it met its own Job. */
const CREATION_ANNOTATION = "yaci.dev/creation";

/** What `createKubernetesExecutor` needs: the executor's deps, with the cluster and options read from `env`. */
export type CreateKubernetesExecutorParams = Omit<KubernetesExecutorDeps, "kc" | "namespace" | "options"> & {
  env: Record<string, string | undefined>;
  /** Tests: a ready KubeConfig (and namespace) instead of loading one from `env`. */
  kubeConfig?: { kc: KubeConfig; namespace: string };
  /** Tests: settings on top of those read from `env` (e.g. millisecond grace periods). */
  options?: Partial<KubernetesOptions>;
};

/** Observations kept for the first subscriber, at most. */
const MAX_QUEUED = 10_000;

/**
 * Builds the Kubernetes executor from the environment (YACI_EXECUTOR=kubernetes). Throws, with
 * what to do, when there is no usable configuration; an unreachable cluster is not an error
 * here: the executor logs it and keeps retrying, and `ready()` stays false until it answers.
 */
export async function createKubernetesExecutor(p: CreateKubernetesExecutorParams): Promise<KubernetesExecutor> {
  const { env, kubeConfig, options: overrides, ...rest } = p;
  const options = { ...kubernetesOptionsFromEnv(env), ...overrides };
  const queue = rest.queue ?? queueSettingsFromEnv(env);
  let kc: KubeConfig;
  let namespace: string;
  if (kubeConfig) {
    ({ kc, namespace } = kubeConfig);
    namespace = options.namespace ?? namespace;
  } else {
    const loaded = loadKubeConfig(env);
    kc = loaded.kc;
    namespace = loaded.namespace;
    p.log?.info({}, `kubernetes: jobs go to namespace "${namespace}" on ${loaded.server} (${loaded.source})`);
  }
  return new KubernetesExecutor({ ...rest, kc: shareConnections(kc), namespace, options, ...(queue ? { queue } : {}) });
}

/**
 * Runs each job as a batch/v1 Job and follows all of them with one list+watch over Jobs and one
 * over Pods (label `app.kubernetes.io/managed-by=yaci`): no per-job polling. The cluster holds the
 * state: a restarted app rebuilds every RunSpec from its Job's annotation in `recover()`.
 *
 * Delivery: `finished` is emitted exactly once per run per process. Jobs that already existed
 * when this process first listed the cluster are reported by `recover()` (their later
 * observations then flow to subscribers); jobs started here flow to subscribers only.
 * Observations emitted before anyone subscribed are queued (bounded) for the first subscriber.
 *
 * API requests per job: one Job create (suspended when it checks out), one Secret create and one
 * patch that lets the Job start (checkout only: the Secret names the Job as owner, and exists
 * before the pod), one `pods/log` read when it ends, and the `markReported` patch.
 * While someone watches a running job (`followLog`), one `pods/log?follow=true` stream more.
 * A request that fails transiently (no answer, 429, 5xx) is retried with backoff and jitter for as
 * long as the run's own timeout allows; only a permanent answer (400, 403, 404, 422…) fails it.
 *
 * This class makes the API calls (create, delete, patch) and owns the watches; what is known of
 * each run, and what to report, is the `RunTracker`'s; the logs are `RunLogs`'.
 */
export class KubernetesExecutor implements Executor {
  readonly kind = "kubernetes" as const;
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  private readonly timers: Timers;
  private readonly manifestOptions: ManifestOptions;
  private readonly tracker: RunTracker;
  private readonly logs: RunLogs;
  private readonly jobs: ListWatch<V1Job>;
  private readonly pods: ListWatch<V1Pod>;
  /** Jobs this process created through claim(): start() must not create them again. */
  private readonly claimedIds = new Set<string>();
  private readonly listeners = new Set<(o: JobObservation) => void>();
  /** Observations emitted before anyone subscribed. */
  private readonly queued: JobObservation[] = [];
  private started = false;
  private closed = false;
  /** The fair queue's admission (with limits only; not with Kueue). */
  private readonly admission?: Admission;

  constructor(private readonly d: KubernetesExecutorDeps) {
    this.batch = d.kc.makeApiClient(BatchV1Api);
    this.core = d.kc.makeApiClient(CoreV1Api);
    this.timers = d.timers ?? realTimers;
    this.manifestOptions = { ...d.options, namespace: d.namespace, githubApiUrl: d.githubApiUrl };
    const logs = (this.logs = new RunLogs({ ...{ kc: d.kc, namespace: d.namespace, logStore: d.logStore, maxBytes: d.options.logMaxBytes }, ...(d.log ? { log: d.log } : {}), liveReadsPerMinute: d.options.liveLogReadsPerMinute, now: () => this.nowMs() }));
    this.tracker = new RunTracker({
      emit: (o) => this.emit(o),
      options: d.options,
      logs,
      deleteJob: (runId) => this.deleteJob(runId),
      now: d.now ?? (() => new Date()),
      timers: this.timers,
      ...(d.log ? { log: d.log } : {}),
      secretValues: (spec) => new KubeSecretStore(this.core, d.namespace).forRun(spec).then((s) => s.values, () => []),
    });
    // One list+watch over YACI's Jobs and one over their Pods, feeding the tracker (started on first use).
    const ns = encodeURIComponent(d.namespace);
    const common = { kc: d.kc, labelSelector: LABEL_SELECTOR, relistIntervalMs: d.options.relistIntervalMs, log: d.log, timers: this.timers, backoff: d.backoff };
    this.jobs = new ListWatch<V1Job>({
      ...common,
      name: "jobs", trim: trimJob,
      path: `/apis/batch/v1/namespaces/${ns}/jobs`,
      list: async (page) => {
        const l = await this.batch.listNamespacedJob({ namespace: d.namespace, labelSelector: LABEL_SELECTOR, limit: page.limit, _continue: page.continue });
        return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? "", continue: l.metadata?._continue };
      },
      onList: (items) => (this.tracker.onJobList(items), this.admission?.onJobList(items)),
      onEvent: (type, job) => (this.tracker.onJobEvent(type, job), this.admission?.onJobEvent(type, job)),
    });
    if (d.queue && !d.queue.kueueQueue) {
      this.admission = Admission.create(d.kc, d.namespace, d.queue, {
        admit: (name) => this.unsuspend(name, this.nowMs() + 5 * 60_000, "admitted"),
        emit: (o) => this.emit(o),
        now: d.now ?? (() => new Date()),
        timers: this.timers,
        ...(d.log ? { log: d.log } : {}),
      });
    }
    this.pods = new ListWatch<V1Pod>({
      ...common,
      name: "pods", trim: trimPod,
      path: `/api/v1/namespaces/${ns}/pods`,
      list: async (page) => {
        const l = await this.core.listNamespacedPod({ namespace: d.namespace, labelSelector: LABEL_SELECTOR, limit: page.limit, _continue: page.continue });
        return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? "", continue: l.metadata?._continue };
      },
      onList: (items) => this.tracker.onPodList(items),
      onEvent: (type, pod) => this.tracker.onPodEvent(type, pod),
    });
  }

  private ensureStarted(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.jobs.start();
    this.pods.start();
    this.admission?.start();
  }

  subscribe(onObservation: (o: JobObservation) => void): () => void {
    this.ensureStarted();
    this.listeners.add(onObservation);
    if (this.queued.length) for (const o of this.queued.splice(0)) this.deliver(onObservation, o);
    return () => this.listeners.delete(onObservation);
  }

  /** Creates the Job (atomic across replicas: a 409 means someone else created it first). */
  async claim(spec: RunSpec): Promise<"created" | "exists"> {
    this.ensureStarted();
    return this.createJob(spec, true);
  }

  async start(spec: RunSpec): Promise<void> {
    if (this.claimedIds.has(spec.id)) return; // created by claim() a moment ago
    this.ensureStarted();
    await this.createJob(spec, false);
  }

  /**
   * Cancels the run: saves its log (with a note), deletes its Job, then emits `finished:
   * cancelled`. A run that already ended on its own is reported as it ended instead.
   */
  async cancel(runId: string): Promise<void> {
    this.ensureStarted();
    await this.tracker.cancel(runId);
  }

  /**
   * Waits (bounded) for the first list of Jobs and Pods, then reports every Job held since that
   * list (see `RunTracker.recover`).
   */
  async recover(): Promise<RecoveredJob[]> {
    this.ensureStarted();
    const wait = this.d.recoverWaitMs ?? 15_000;
    let timer: unknown;
    const synced = await Promise.race([
      Promise.all([this.jobs.synced, this.pods.synced]).then(() => true),
      new Promise<boolean>((resolve) => (timer = this.timers.setTimeout(() => resolve(false), wait))),
    ]);
    this.timers.clearTimeout(timer);
    if (!synced) {
      this.d.log?.warn(
        {},
        `kubernetes: the cluster did not answer within ${Math.round(wait / 1000)}s (${this.notReadyReason() ?? "no answer"}); ` +
          `Jobs left by a previous run will be reported when it does`,
      );
    }
    return this.tracker.recover();
  }

  /** A running job's log so far, for its check run (`RunLogs.liveTail`: YACI_LIVE_LOG_READS_PER_MINUTE). */
  liveLog(runId: string, maxBytes: number): Promise<LogTail | undefined> {
    return this.logs.liveTail(runId, maxBytes);
  }

  /** Copies a running job's output into the LogStore while `signal` is not aborted (shared per run). */
  followLog(runId: string, signal: AbortSignal): void {
    this.ensureStarted();
    this.tracker.followLog(runId, signal);
  }

  /** Annotates the Job as reported, so a restarted app does not report its end again. */
  async markReported(runId: string): Promise<void> {
    try {
      await this.retrying(`mark Job ${runId} as reported`, runId, this.nowMs() + 10 * 60_000, () =>
        this.batch.patchNamespacedJob(
          { name: runId, namespace: this.d.namespace, body: { metadata: { annotations: { [ANNOTATIONS.reported]: "true" } } } },
          setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
        ),
      );
    } catch (err) {
      if (httpStatusOf(err) === 404) return;
      throw new Error(`kubernetes: could not mark Job ${runId} as reported: ${apiMessage(err)}`);
    }
  }

  async ready(): Promise<boolean> {
    this.ensureStarted();
    return this.jobs.healthy && this.pods.healthy;
  }

  /** Why `ready()` is false, for logs. */
  notReadyReason(): string | undefined {
    return this.jobs.lastError ?? this.pods.lastError;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.admission?.close();
    await this.tracker.close();
    await Promise.all([this.jobs.stop(), this.pods.stop()]);
    await this.tracker.settled();
  }

  /**
   * Creates the run's Job; for a run that checks out, suspended (no pod yet), then its token
   * Secret (owned by the Job, so it goes with it), then lets the Job start: its pod never waits
   * for a missing Secret. `claiming`: a 409 means another replica created it first and owns it
   * ("exists": this process never tracks nor reports it); otherwise an existing Job is adopted
   * (its Secret created if missing, and let start if still suspended).
   */
  private async createJob(spec: RunSpec, claiming: boolean): Promise<"created" | "exists"> {
    const { d } = this;
    if (this.tracker.hasFinished(spec.id)) return "exists"; // already ran to the end in this process
    // Transient failures are retried until the run's own timeout would have passed.
    const deadline = this.nowMs() + spec.timeoutMs;
    const secrets = await new KubeSecretStore(this.core, d.namespace).forRun(spec, (fn) => this.retrying(`list the Secrets of ${spec.id}`, spec.id, deadline, fn)); // refs; values only to mask
    const body = buildJobManifest(spec, this.manifestOptions, secrets.refs);
    const creation = randomUUID();
    body.metadata = { ...body.metadata, annotations: { ...body.metadata?.annotations, [CREATION_ANNOTATION]: creation } };
    if (d.queue) queueJob(body, spec, d.queue);
    let job: V1Job;
    try {
      job = await this.retrying(`create Job ${spec.id}`, spec.id, deadline, () => this.batch.createNamespacedJob({ namespace: d.namespace, body }));
      if (claiming) this.claimedIds.add(spec.id);
      d.log?.info({ runId: spec.id }, `kubernetes: created Job ${spec.id} in ${d.namespace}`);
    } catch (err) {
      if (httpStatusOf(err) !== 409) throw new Error(`kubernetes: could not create Job ${spec.id}: ${apiMessage(err)}`);
      const own = await this.ownJob(spec.id, creation, deadline);
      if (own) {
        // An earlier try of this very call created it (its answer was lost): it is ours.
        job = own;
        if (claiming) this.claimedIds.add(spec.id);
        d.log?.info({ runId: spec.id }, `kubernetes: created Job ${spec.id} in ${d.namespace} (found on a retry)`);
      } else if (claiming) {
        // Another replica (or an earlier delivery) created it: that one owns it.
        d.log?.info({ runId: spec.id }, `kubernetes: Job ${spec.id} already exists: left to its creator`);
        return "exists";
      } else {
        d.log?.info({ runId: spec.id }, `kubernetes: Job ${spec.id} already exists: adopting it`);
        try {
          job = await this.retrying(`read Job ${spec.id}`, spec.id, deadline, () => this.batch.readNamespacedJob({ name: spec.id, namespace: d.namespace }));
        } catch (e) {
          if (httpStatusOf(e) === 404) return "exists"; // gone meanwhile: the watch reports it
          throw new Error(`kubernetes: could not read Job ${spec.id}: ${apiMessage(e)}`);
        }
      }
    }
    const run = this.tracker.adopt(spec, secrets.values);
    if (!run) {
      // Cancelled (and reported) while its Job was being created: nothing of it may run.
      if (this.claimedIds.has(spec.id)) await this.deleteJob(spec.id).catch(() => {});
      return claiming ? "created" : "exists";
    }
    const uid = job.metadata?.uid;
    if (spec.checkout && uid) {
      // The token is minted only for a Job that exists, and lives in a Secret that Job owns.
      const token = await d.checkoutToken(spec);
      run.setToken(token);
      try {
        const secret = buildSecretManifest(spec, token, this.manifestOptions, { uid });
        await this.retrying(`create the checkout Secret of ${spec.id}`, spec.id, deadline, () => this.core.createNamespacedSecret({ namespace: d.namespace, body: secret }));
      } catch (err) {
        if (httpStatusOf(err) !== 409) {
          // Without its Secret the pod could never start: remove the Job, report the error.
          await this.deleteJob(spec.id).catch(() => {});
          throw new Error(`kubernetes: could not create the checkout Secret of ${spec.id}: ${apiMessage(err)}`);
        }
      }
      // Kueue's Jobs are unsuspended by Kueue alone; queued ones by the admitting replica.
      const state = job.metadata?.annotations?.[QUEUE_ANNOTATION];
      if (state === "held") await this.unsuspend(spec.id, deadline, "waiting");
      else if (job.spec?.suspend && state === undefined && !job.metadata?.labels?.[KUEUE_QUEUE_LABEL]) await this.unsuspend(spec.id, deadline);
    }
    if (d.queue?.kueueQueue) this.emit({ runId: spec.id, phase: "pending", waitingReason: `waiting for Kueue to admit it (LocalQueue ${d.queue.kueueQueue})` });
    await run.created();
    return "created";
  }

  /** The Job, when the call that made `creation` created it (a retry met its own earlier try). */
  private async ownJob(name: string, creation: string, deadline: number): Promise<V1Job | undefined> {
    try {
      const job = await this.retrying(`read Job ${name}`, name, deadline, () => this.batch.readNamespacedJob({ name, namespace: this.d.namespace }));
      return job.metadata?.annotations?.[CREATION_ANNOTATION] === creation ? job : undefined;
    } catch {
      return undefined; // gone or unreadable: handled as someone else's
    }
  }

  private nowMs(): number {
    return (this.d.now?.() ?? new Date()).getTime();
  }

  /** `retryTransient` (api-error.ts) with this executor's backoff, clock and log; stops retrying once closed. */
  private retrying<T>(what: string, runId: string, deadline: number, fn: () => Promise<T>): Promise<T> {
    const { backoff, random, log } = this.d;
    return retryTransient(what, runId, deadline, fn, { now: () => this.nowMs(), timers: this.timers, stopped: () => this.closed, backoff, random, log });
  }

  /**
   * Lets a suspended Job go on: `start` (unqueued: its Secret exists, its pod may be created),
   * `waiting` (queued: its Secret exists, it may be admitted) or `admitted` (the queue let it
   * start). A Job deleted meanwhile (a cancel) is fine; one that cannot start is removed.
   */
  private async unsuspend(name: string, deadline: number, state: QueueState | "start" = "start"): Promise<void> {
    const spec = state === "waiting" ? {} : { spec: { suspend: false } };
    const body = state === "start" ? spec : { metadata: { annotations: { [QUEUE_ANNOTATION]: state } }, ...spec };
    try {
      await this.retrying(`${state === "waiting" ? "queue" : state === "admitted" ? "admit" : "start"} Job ${name}`, name, deadline, () =>
        this.batch.patchNamespacedJob({ name, namespace: this.d.namespace, body }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch)),
      );
    } catch (err) {
      if (httpStatusOf(err) === 404) return; // deleted meanwhile (a cancel): the watch reports it
      if (state !== "admitted") await this.deleteJob(name).catch(() => {});
      throw new Error(`kubernetes: could not start Job ${name}: ${apiMessage(err)}`);
    }
  }

  /** Deletes the Job (its pods and Secret go with it); one already gone is fine. */
  private async deleteJob(name: string): Promise<void> {
    try {
      await this.retrying(`delete Job ${name}`, name, this.nowMs() + 5 * 60_000, () =>
        this.batch.deleteNamespacedJob({ name, namespace: this.d.namespace, propagationPolicy: "Background" }),
      );
      this.d.log?.info({ runId: name }, `kubernetes: deleted Job ${name}`);
    } catch (err) {
      if (httpStatusOf(err) !== 404) throw new Error(`kubernetes: could not delete Job ${name}: ${apiMessage(err)}`);
    }
  }

  /** Sends an observation to every subscriber, or queues it (bounded) until the first subscribes. */
  private emit(o: JobObservation): void {
    if (this.listeners.size === 0) {
      if (this.queued.length < MAX_QUEUED) this.queued.push(o);
      return;
    }
    for (const l of this.listeners) this.deliver(l, o);
  }

  /** Calls one listener; a listener that throws is logged, never allowed to break the watch. */
  private deliver(l: (o: JobObservation) => void, o: JobObservation): void {
    try {
      l(o);
    } catch (err) {
      this.d.log?.error({ runId: o.runId }, `kubernetes: an observation listener failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
