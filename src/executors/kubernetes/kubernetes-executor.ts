import { BatchV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Job, type V1Pod } from "@kubernetes/client-node";
import { realTimers, type Timers } from "../../clock.js";
import type { RunSpec } from "../../core/run.js";
import { httpStatusOf } from "../../http-status.js";
import type { Logger } from "../../logger.js";
import type { LogStore } from "../../logs/log-store.js";
import type { CheckoutTokenSource, Executor, JobObservation, RecoveredJob } from "../executor.js";
import { apiMessage } from "./api-error.js";
import { ANNOTATIONS, buildJobManifest, buildSecretManifest, LABEL_SELECTOR, type ManifestOptions } from "./job-manifest.js";
import { ListWatch } from "./list-watch.js";
import { kubernetesOptionsFromEnv, loadKubeConfig, type KubernetesOptions } from "./options.js";
import { RunLogs } from "./run-logs.js";
import { RunTracker } from "./run-tracker.js";

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
  /** Retry delays of the list/watch loop (default 1 s → 30 s). */
  backoff?: { initialMs: number; maxMs: number };
}

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
  return new KubernetesExecutor({ ...rest, kc, namespace, options });
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
 * API requests per job: one Job create, one Secret create (checkout only; it names the Job as
 * owner, so no patch is needed), one `pods/log` read when it ends, and the `markReported` patch.
 * While someone watches a running job (`followLog`), one `pods/log?follow=true` stream more.
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
  private readonly jobs: ListWatch<V1Job>;
  private readonly pods: ListWatch<V1Pod>;
  /** Jobs this process created through claim(): start() must not create them again. */
  private readonly claimedIds = new Set<string>();
  private readonly listeners = new Set<(o: JobObservation) => void>();
  /** Observations emitted before anyone subscribed. */
  private readonly queued: JobObservation[] = [];
  private started = false;
  private closed = false;

  constructor(private readonly d: KubernetesExecutorDeps) {
    this.batch = d.kc.makeApiClient(BatchV1Api);
    this.core = d.kc.makeApiClient(CoreV1Api);
    this.timers = d.timers ?? realTimers;
    this.manifestOptions = { ...d.options, namespace: d.namespace, githubApiUrl: d.githubApiUrl };
    const logs = new RunLogs({ kc: d.kc, namespace: d.namespace, logStore: d.logStore, maxBytes: d.options.logMaxBytes, ...(d.log ? { log: d.log } : {}) });
    this.tracker = new RunTracker({
      emit: (o) => this.emit(o),
      options: d.options,
      logs,
      deleteJob: (runId) => this.deleteJob(runId),
      now: d.now ?? (() => new Date()),
      timers: this.timers,
      ...(d.log ? { log: d.log } : {}),
    });
    // One list+watch over YACI's Jobs and one over their Pods, feeding the tracker (started on first use).
    const ns = encodeURIComponent(d.namespace);
    const common = { kc: d.kc, labelSelector: LABEL_SELECTOR, relistIntervalMs: d.options.relistIntervalMs, log: d.log, timers: this.timers, backoff: d.backoff };
    this.jobs = new ListWatch<V1Job>({
      ...common,
      name: "jobs",
      path: `/apis/batch/v1/namespaces/${ns}/jobs`,
      list: async () => {
        const l = await this.batch.listNamespacedJob({ namespace: d.namespace, labelSelector: LABEL_SELECTOR });
        return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? "" };
      },
      onList: (items) => this.tracker.onJobList(items),
      onEvent: (type, job) => this.tracker.onJobEvent(type, job),
    });
    this.pods = new ListWatch<V1Pod>({
      ...common,
      name: "pods",
      path: `/api/v1/namespaces/${ns}/pods`,
      list: async () => {
        const l = await this.core.listNamespacedPod({ namespace: d.namespace, labelSelector: LABEL_SELECTOR });
        return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? "" };
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

  /** Copies a running job's output into the LogStore while `signal` is not aborted (shared per run). */
  followLog(runId: string, signal: AbortSignal): void {
    this.ensureStarted();
    this.tracker.followLog(runId, signal);
  }

  /** Annotates the Job as reported, so a restarted app does not report its end again. */
  async markReported(runId: string): Promise<void> {
    try {
      await this.batch.patchNamespacedJob(
        { name: runId, namespace: this.d.namespace, body: { metadata: { annotations: { [ANNOTATIONS.reported]: "true" } } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
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
    await this.tracker.close();
    await Promise.all([this.jobs.stop(), this.pods.stop()]);
    await this.tracker.settled();
  }

  /**
   * Creates the run's Job, then (checkout only) its Secret, owned by the Job. `claiming`: a 409
   * means another replica created it first and owns it ("exists"); otherwise an existing Job is
   * adopted (its Secret is created if missing).
   */
  private async createJob(spec: RunSpec, claiming: boolean): Promise<"created" | "exists"> {
    const { d } = this;
    const run = this.tracker.adopt(spec);
    if (!run) return "exists"; // already ran to the end in this process
    const body = buildJobManifest(spec, this.manifestOptions);
    let uid: string | undefined;
    try {
      const created = await this.batch.createNamespacedJob({ namespace: d.namespace, body });
      uid = created.metadata?.uid;
      if (claiming) this.claimedIds.add(spec.id);
      d.log?.info({ runId: spec.id }, `kubernetes: created Job ${spec.id} in ${d.namespace}`);
    } catch (err) {
      if (httpStatusOf(err) !== 409) throw new Error(`kubernetes: could not create Job ${spec.id}: ${apiMessage(err)}`);
      if (claiming) {
        // Another replica (or an earlier delivery) created it: that one owns it.
        d.log?.info({ runId: spec.id }, `kubernetes: Job ${spec.id} already exists: left to its creator`);
        return "exists";
      }
      d.log?.info({ runId: spec.id }, `kubernetes: Job ${spec.id} already exists: adopting it`);
      if (!spec.checkout) return "exists";
      try {
        uid = (await this.batch.readNamespacedJob({ name: spec.id, namespace: d.namespace })).metadata?.uid;
      } catch (e) {
        if (httpStatusOf(e) === 404) return "exists"; // gone meanwhile: the watch reports it
        throw new Error(`kubernetes: could not read Job ${spec.id}: ${apiMessage(e)}`);
      }
    }
    if (spec.checkout && uid) {
      // The token is minted only for a Job that exists, and lives in a Secret that Job owns.
      const token = await d.checkoutToken(spec);
      run.setToken(token);
      try {
        await this.core.createNamespacedSecret({ namespace: d.namespace, body: buildSecretManifest(spec, token, this.manifestOptions, { uid }) });
      } catch (err) {
        if (httpStatusOf(err) !== 409) {
          // Without its Secret the pod would wait for it forever: remove the Job, report the error.
          await this.deleteJob(spec.id).catch(() => {});
          throw new Error(`kubernetes: could not create the checkout Secret of ${spec.id}: ${apiMessage(err)}`);
        }
      }
    }
    await run.created();
    return "created";
  }

  /** Deletes the Job (its pods and Secret go with it); one already gone is fine. */
  private async deleteJob(name: string): Promise<void> {
    try {
      await this.batch.deleteNamespacedJob({ name, namespace: this.d.namespace, propagationPolicy: "Background" });
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
