import {
  ApiException,
  BatchV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Job,
  type V1Pod,
} from "@kubernetes/client-node";
import type { RunSpec } from "../../core/run.js";
import type { LogStore } from "../../logs/log-store.js";
import type { CheckoutTokenSource, Executor, JobObservation, RecoveredJob } from "../executor.js";
import { classify, imagePullError, type Classification } from "./classify-pod.js";
import { ListWatch, realTimers, type Logger, type Timers, type WatchEventType } from "./job-informer.js";
import { ANNOTATIONS, buildJobManifest, buildSecretManifest, LABEL_SELECTOR, RUN_ID_LABEL, specFromJob, type ManifestOptions } from "./job-manifest.js";
import type { KubernetesOptions } from "./options.js";
import { saveFinalLog } from "./pod-logs.js";

export interface KubernetesExecutorDeps {
  kc: KubeConfig;
  namespace: string;
  options: KubernetesOptions;
  logStore: LogStore;
  checkoutToken: CheckoutTokenSource;
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

type Finished = Extract<JobObservation, { phase: "finished" }>;

interface PodState {
  pod: V1Pod;
  gone: boolean;
}

/** What this process knows of one run (one Job). */
interface RunState {
  id: string;
  spec?: RunSpec;
  job?: V1Job;
  jobGone: boolean;
  pods: Map<string, PodState>;
  /** Present in the cluster when this process first listed it: reported through `recover()`. */
  held: boolean;
  /** `finished` was decided: nothing else is emitted for this run. */
  finishing: boolean;
  imagePull?: { key: string; since: Date };
  lastKey?: string;
  timer?: unknown;
  cancelRequested?: boolean;
  /** The checkout token, kept to mask it in saved logs. */
  token?: string;
  /** The log, saved early because the pod is being deleted (it would be gone at the end). */
  earlyLog?: Promise<void>;
  /** The Job ended before its pod's final status arrived: since when we wait for it. */
  podLagSince?: number;
}

/** The observation, naming the run's newest pod (for `GET /get`). */
function withPod<T extends JobObservation>(state: RunState, o: T): T {
  const name = newestPod(state)?.pod.metadata?.name;
  return name ? { ...o, podName: name } : o;
}

/** How long to wait for a pod's final status after its Job ended (two watch streams, any order). */
const POD_LAG_WAIT_MS = 2000;

const MAX_QUEUED = 10_000;
const MAX_FINISHED_IDS = 50_000;

function apiCode(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const e = err as { code?: unknown; statusCode?: unknown } | undefined;
  if (typeof e?.code === "number") return e.code;
  if (typeof e?.statusCode === "number") return e.statusCode;
  return undefined;
}

function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    try {
      const status = JSON.parse(String(err.body)) as { message?: string };
      if (status.message) return `HTTP ${err.code}: ${status.message}`;
    } catch {
      /* not JSON */
    }
    return `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

function observationKey(o: JobObservation): string {
  switch (o.phase) {
    case "pending":
      return `pending|${o.waitingReason ?? ""}`;
    case "running":
      return `running|${o.startedAt.getTime()}`;
    case "finished":
      return `finished|${o.outcome}`;
  }
}

function newestPod(state: RunState): PodState | undefined {
  let best: PodState | undefined;
  for (const p of state.pods.values()) {
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

/**
 * Runs each job as a batch/v1 Job and follows all of them with one list+watch over Jobs and one
 * over Pods (label `app.kubernetes.io/managed-by=yaci`): no per-job polling. The cluster holds the
 * state: a restarted app rebuilds every RunSpec from its Job's annotation in `recover()`.
 *
 * Delivery: `finished` is emitted exactly once per run per process. Jobs that already existed
 * when this process first listed the cluster are reported by `recover()` (their later
 * observations then flow to subscribers); jobs started here flow to subscribers only.
 *
 * API requests per job: one Job create, one Secret create (checkout only; it names the Job as
 * owner, so no patch is needed), one `pods/log` read when it ends, and the `markReported` patch.
 */
export class KubernetesExecutor implements Executor {
  readonly kind = "kubernetes" as const;
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  private readonly jobs: ListWatch<V1Job>;
  private readonly pods: ListWatch<V1Pod>;
  private readonly states = new Map<string, RunState>();
  private readonly finishedIds = new Set<string>();
  /** Jobs this process created through claim(): start() must not create them again. */
  private readonly claimedIds = new Set<string>();
  private readonly listeners = new Set<(o: JobObservation) => void>();
  private readonly queued: JobObservation[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly now: () => Date;
  private readonly timers: Timers;
  private readonly manifestOptions: ManifestOptions;
  private started = false;
  private closed = false;
  /** Jobs listed before recover() is done are held for it; after, everything flows to subscribers. */
  private recoverState: "not-called" | "waiting" | "done" = "not-called";
  private jobsListedOnce = false;

  constructor(private readonly d: KubernetesExecutorDeps) {
    this.now = d.now ?? (() => new Date());
    this.timers = d.timers ?? realTimers;
    this.batch = d.kc.makeApiClient(BatchV1Api);
    this.core = d.kc.makeApiClient(CoreV1Api);
    this.manifestOptions = { ...d.options, namespace: d.namespace, githubApiUrl: d.githubApiUrl };
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
      onList: (items) => this.onJobList(items),
      onEvent: (type, job) => this.onJobEvent(type, job),
    });
    this.pods = new ListWatch<V1Pod>({
      ...common,
      name: "pods",
      path: `/api/v1/namespaces/${ns}/pods`,
      list: async () => {
        const l = await this.core.listNamespacedPod({ namespace: d.namespace, labelSelector: LABEL_SELECTOR });
        return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? "" };
      },
      onList: (items) => this.onPodList(items),
      onEvent: (type, pod) => this.onPodEvent(type, pod),
    });
  }

  get namespace(): string {
    return this.d.namespace;
  }

  private ensureStarted(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.jobs.start();
    this.pods.start();
  }

  // ---- Executor port ------------------------------------------------------------------------

  subscribe(onObservation: (o: JobObservation) => void): () => void {
    this.ensureStarted();
    this.listeners.add(onObservation);
    if (this.queued.length) for (const o of this.queued.splice(0)) this.safeCall(onObservation, o);
    return () => this.listeners.delete(onObservation);
  }

  /** Creates the Job (atomic across replicas: a 409 means someone else created it first). */
  async claim(spec: RunSpec): Promise<"created" | "exists"> {
    return this.create(spec, true);
  }

  async start(spec: RunSpec): Promise<void> {
    if (this.claimedIds.has(spec.id)) return; // created by claim() a moment ago
    await this.create(spec, false);
  }

  private async create(spec: RunSpec, claiming: boolean): Promise<"created" | "exists"> {
    this.ensureStarted();
    if (this.finishedIds.has(spec.id)) return "exists"; // already ran to the end in this process
    const state = this.state(spec.id);
    state.spec = spec;
    state.held = false;
    const body = buildJobManifest(spec, this.manifestOptions);
    let uid: string | undefined;
    let token: string | undefined;
    try {
      const created = await this.batch.createNamespacedJob({ namespace: this.d.namespace, body });
      uid = created.metadata?.uid;
      if (claiming) this.claimedIds.add(spec.id);
      this.d.log?.info(`kubernetes: created Job ${spec.id} in ${this.d.namespace}`);
    } catch (err) {
      if (apiCode(err) !== 409) throw new Error(`kubernetes: could not create Job ${spec.id}: ${apiMessage(err)}`);
      if (claiming) {
        // Another replica (or an earlier delivery) created it: that one owns it.
        this.d.log?.info(`kubernetes: Job ${spec.id} already exists: left to its creator`);
        return "exists";
      }
      this.d.log?.info(`kubernetes: Job ${spec.id} already exists: adopting it`);
      if (!spec.checkout) return "exists";
      try {
        uid = (await this.batch.readNamespacedJob({ name: spec.id, namespace: this.d.namespace })).metadata?.uid;
      } catch (e) {
        if (apiCode(e) === 404) return "exists"; // gone meanwhile: the watch reports it
        throw new Error(`kubernetes: could not read Job ${spec.id}: ${apiMessage(e)}`);
      }
    }
    if (spec.checkout && uid) {
      // The token is minted only for a Job that exists, and lives in a Secret that Job owns.
      token = await this.d.checkoutToken(spec);
      state.token = token;
      try {
        await this.core.createNamespacedSecret({ namespace: this.d.namespace, body: buildSecretManifest(spec, token, this.manifestOptions, { uid }) });
      } catch (err) {
        if (apiCode(err) !== 409) {
          // Without its Secret the pod would wait for it forever: remove the Job, report the error.
          await this.deleteJob(spec.id).catch(() => {});
          throw new Error(`kubernetes: could not create the checkout Secret of ${spec.id}: ${apiMessage(err)}`);
        }
      }
    }
    if (state.cancelRequested) await this.deleteJob(spec.id).catch(() => {});
    // An adopted Job may already be known (held for recover(), or seen before): report where it is.
    this.evaluate(state);
    return "created";
  }

  async cancel(runId: string): Promise<void> {
    this.ensureStarted();
    if (this.finishedIds.has(runId)) return;
    const state = this.state(runId);
    if (state.finishing) return;
    state.held = false;
    const finishedAt = this.now();
    const c = this.classifyState(state, finishedAt);
    if (c.kind === "finish" && c.observation.outcome !== "cancelled") {
      // It ended on its own before the cancel arrived: report what really happened.
      this.evaluate(state);
      return;
    }
    state.finishing = true;
    state.cancelRequested = true;
    this.clearTimer(state);
    const startedAt = c.observation.phase === "pending" ? undefined : c.observation.startedAt;
    const obs: Finished = { runId, phase: "finished", outcome: "cancelled", finishedAt, message: "cancelled", ...(startedAt ? { startedAt } : {}) };
    await this.track(
      (async () => {
        await this.saveLog(state, c.kind === "finish" ? c.log : this.runningLogTarget(state), "yaci: cancelled\n");
        try {
          await this.deleteJob(runId);
        } catch (err) {
          state.finishing = false;
          state.cancelRequested = false;
          this.evaluate(state);
          throw err;
        }
        this.finish(state, obs);
      })(),
    );
  }

  async recover(): Promise<RecoveredJob[]> {
    this.ensureStarted();
    if (this.recoverState === "not-called") this.recoverState = "waiting";
    const wait = this.d.recoverWaitMs ?? 15_000;
    let timer: unknown;
    const synced = await Promise.race([
      Promise.all([this.jobs.synced, this.pods.synced]).then(() => true),
      new Promise<boolean>((resolve) => (timer = this.timers.setTimeout(() => resolve(false), wait))),
    ]);
    this.timers.clearTimeout(timer);
    this.recoverState = "done";
    if (!synced) {
      this.d.log?.warn(
        `kubernetes: the cluster did not answer within ${Math.round(wait / 1000)}s (${this.jobs.lastError ?? this.pods.lastError ?? "no answer"}); ` +
          `Jobs left by a previous run will be reported when it does`,
      );
    }
    const out: RecoveredJob[] = [];
    const now = this.now();
    for (const state of [...this.states.values()]) {
      if (!state.held) continue;
      state.held = false;
      const job = state.job;
      const spec = job ? specFromJob(job) : undefined;
      if (!spec) {
        this.d.log?.warn(`kubernetes: Job ${state.id} has no readable ${ANNOTATIONS.spec} annotation: ignoring it`);
        continue;
      }
      state.spec = spec;
      const reported = job?.metadata?.annotations?.[ANNOTATIONS.reported] === "true";
      const c = this.classifyState(state, now);
      if (c.kind === "finish") {
        state.finishing = true;
        this.rememberFinished(state.id);
        if (!reported) {
          if (c.deleteJob) await this.deleteJob(state.id).catch((err) => this.d.log?.warn(`kubernetes: could not delete Job ${state.id}: ${apiMessage(err)}`));
          if ((await this.d.logStore.size(state.id)) === 0) await this.saveLog(state, c.log, c.observation.message && !c.log ? `yaci: ${c.observation.message}\n` : "");
        }
        out.push({ spec, observation: c.observation, ...(reported ? { reported: true } : {}) });
        if (state.jobGone) this.states.delete(state.id);
      } else {
        state.lastKey = observationKey(c.observation);
        this.schedule(state, c);
        out.push({ spec, observation: c.observation });
      }
    }
    return out;
  }

  async markReported(runId: string): Promise<void> {
    try {
      await this.batch.patchNamespacedJob(
        { name: runId, namespace: this.d.namespace, body: { metadata: { annotations: { [ANNOTATIONS.reported]: "true" } } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
    } catch (err) {
      if (apiCode(err) === 404) return;
      throw new Error(`kubernetes: could not mark Job ${runId} as reported: ${apiMessage(err)}`);
    }
  }

  async ready(): Promise<boolean> {
    this.ensureStarted();
    return this.jobs.healthy && this.pods.healthy;
  }

  /** Why `ready()` is false, for `/readyz` and logs. */
  notReadyReason(): string | undefined {
    return this.jobs.lastError ?? this.pods.lastError;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.states.values()) this.clearTimer(s);
    await Promise.all([this.jobs.stop(), this.pods.stop()]);
    await Promise.allSettled([...this.inFlight]);
  }

  // ---- Watch handlers -----------------------------------------------------------------------

  private state(id: string): RunState {
    let s = this.states.get(id);
    if (!s) {
      s = { id, jobGone: false, pods: new Map(), held: false, finishing: false };
      this.states.set(id, s);
    }
    return s;
  }

  private runIdOf(obj: V1Job | V1Pod): string | undefined {
    return obj.metadata?.labels?.[RUN_ID_LABEL] ?? (obj.kind === "Job" ? obj.metadata?.name : undefined);
  }

  private onJobList(items: V1Job[]): void {
    const seen = new Set<string>();
    const first = !this.jobsListedOnce;
    this.jobsListedOnce = true;
    for (const job of items) {
      const id = job.metadata?.name;
      if (!id) continue;
      seen.add(id);
      const known = this.states.get(id);
      const s = this.state(id);
      // Jobs from before this process are reported by recover(), once it is called.
      if (first && this.recoverState !== "done" && !s.spec && !known?.job) s.held = true;
      s.job = job;
      s.jobGone = false;
    }
    for (const s of [...this.states.values()]) {
      if (s.job && !seen.has(s.id)) this.jobDeleted(s);
    }
    for (const s of [...this.states.values()]) if (s.job) this.evaluate(s);
  }

  private onJobEvent(type: WatchEventType, job: V1Job): void {
    const id = job.metadata?.name;
    if (!id) return;
    const s = this.state(id);
    s.job = job;
    if (type === "DELETED") this.jobDeleted(s);
    else {
      s.jobGone = false;
      this.evaluate(s);
    }
  }

  private jobDeleted(s: RunState): void {
    s.jobGone = true;
    if (s.finishing) {
      // Ended and now gone (TTL, our delete): forget it, keep only its id.
      this.clearTimer(s);
      this.states.delete(s.id);
      return;
    }
    this.evaluate(s);
  }

  private onPodList(items: V1Pod[]): void {
    const seen = new Set<string>();
    for (const pod of items) {
      const id = this.runIdOf(pod);
      const name = pod.metadata?.name;
      if (!id || !name) continue;
      seen.add(name);
      this.state(id).pods.set(name, { pod, gone: false });
    }
    for (const s of [...this.states.values()]) {
      let changed = false;
      for (const [name, p] of s.pods) {
        if (!seen.has(name) && !p.gone) {
          p.gone = true;
          changed = true;
        }
      }
      if (changed) this.podsChanged(s);
      else if (s.job) this.evaluate(s);
    }
  }

  private onPodEvent(type: WatchEventType, pod: V1Pod): void {
    const id = this.runIdOf(pod);
    const name = pod.metadata?.name;
    if (!id || !name) return;
    const s = this.state(id);
    s.pods.set(name, { pod, gone: type === "DELETED" });
    this.podsChanged(s);
  }

  private podsChanged(s: RunState): void {
    if (!s.job && !s.spec) {
      // Pods of a Job we have not seen (yet): keep live ones, forget deleted ones.
      for (const [name, p] of s.pods) if (p.gone) s.pods.delete(name);
      if (s.pods.size === 0 && !s.held) this.states.delete(s.id);
      return;
    }
    this.evaluate(s);
  }

  // ---- Classification and delivery ----------------------------------------------------------

  private classifyInput(state: RunState) {
    const pod = newestPod(state);
    return {
      runId: state.id,
      job: state.job,
      jobGone: state.jobGone,
      pod: pod?.pod,
      podGone: pod?.gone ?? false,
      now: this.now(),
      imagePullErrorSince: state.imagePull?.since,
      pendingTimeoutMs: this.d.options.pendingTimeoutMs,
      imagePullGraceMs: this.d.options.imagePullGraceMs,
    };
  }

  private classifyState(state: RunState, now: Date): Classification {
    const input = { ...this.classifyInput(state), now };
    // Track since when the current image-pull error lasts (the pod shows no timestamp for it).
    const pull = input.podGone ? undefined : imagePullError(input.pod);
    if (pull) {
      const key = `${input.pod?.metadata?.name}/${pull.container}`;
      if (state.imagePull?.key !== key) state.imagePull = { key, since: now };
      input.imagePullErrorSince = state.imagePull.since;
    } else {
      state.imagePull = undefined;
      input.imagePullErrorSince = undefined;
    }
    return classify(input);
  }

  private evaluate(state: RunState): void {
    if (this.closed || state.held || state.finishing || this.finishedIds.has(state.id)) return;
    if (!state.job && !state.jobGone) return;
    if (!state.job && state.jobGone && !state.spec) return;
    const c = this.classifyState(state, this.now());
    if (c.kind === "observe") {
      this.schedule(state, c);
      this.saveLogEarlyIfPodIsGoing(state);
      const key = observationKey(c.observation);
      if (key !== state.lastKey) {
        state.lastKey = key;
        this.emit(withPod(state, c.observation));
      }
      return;
    }
    if (c.podLagging && !state.jobGone) {
      const now = this.now().getTime();
      state.podLagSince ??= now;
      const left = state.podLagSince + POD_LAG_WAIT_MS - now;
      if (left > 0) {
        this.clearTimer(state);
        state.timer = this.timers.setTimeout(() => {
          state.timer = undefined;
          this.evaluate(state);
        }, left + 5);
        return;
      }
    }
    state.finishing = true;
    this.clearTimer(state);
    void this.track(
      (async () => {
        if (c.deleteJob) {
          await this.deleteJob(state.id).catch((err) => this.d.log?.warn(`kubernetes: could not delete Job ${state.id}: ${apiMessage(err)}`));
        }
        if (state.earlyLog) await state.earlyLog;
        else await this.saveLog(state, c.log, c.observation.message && !c.log ? `yaci: ${c.observation.message}\n` : "");
        this.finish(state, c.observation);
      })(),
    ).catch((err) => this.d.log?.error(`kubernetes: finishing ${state.id} failed: ${apiMessage(err)}`));
  }

  /** A pod being deleted (deadline, eviction, drain) takes its log along: read it now. */
  private saveLogEarlyIfPodIsGoing(state: RunState): void {
    const p = newestPod(state);
    if (state.earlyLog || !p || p.gone || !p.pod.metadata?.deletionTimestamp) return;
    const target = this.runningLogTarget(state);
    if (target) state.earlyLog = this.track(this.saveLog(state, target, ""));
  }

  private schedule(state: RunState, c: Extract<Classification, { kind: "observe" }>): void {
    this.clearTimer(state);
    if (!c.recheckAt || this.closed) return;
    const ms = Math.max(0, c.recheckAt.getTime() - this.now().getTime()) + 5;
    state.timer = this.timers.setTimeout(() => {
      state.timer = undefined;
      this.evaluate(state);
    }, ms);
  }

  private clearTimer(state: RunState): void {
    if (state.timer !== undefined) this.timers.clearTimeout(state.timer);
    state.timer = undefined;
  }

  private finish(state: RunState, obs: Finished): void {
    if (this.finishedIds.has(state.id)) return;
    this.rememberFinished(state.id);
    state.token = undefined;
    this.d.log?.info(`kubernetes: ${state.id} finished: ${obs.outcome}${obs.exitCode !== undefined ? ` (exit code ${obs.exitCode})` : ""}${obs.message ? `: ${obs.message}` : ""}`);
    this.emit(withPod(state, obs));
    if (state.jobGone || !state.job) this.states.delete(state.id);
  }

  private rememberFinished(id: string): void {
    this.finishedIds.add(id);
    if (this.finishedIds.size > MAX_FINISHED_IDS) {
      const oldest = this.finishedIds.values().next().value;
      if (oldest !== undefined) this.finishedIds.delete(oldest);
    }
  }

  private emit(o: JobObservation): void {
    if (this.listeners.size === 0) {
      if (this.queued.length < MAX_QUEUED) this.queued.push(o);
      return;
    }
    for (const l of this.listeners) this.safeCall(l, o);
  }

  private safeCall(l: (o: JobObservation) => void, o: JobObservation): void {
    try {
      l(o);
    } catch (err) {
      this.d.log?.error(`kubernetes: an observation listener failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const done = () => this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  // ---- Cluster operations -------------------------------------------------------------------

  private async deleteJob(name: string): Promise<void> {
    try {
      await this.batch.deleteNamespacedJob({ name, namespace: this.d.namespace, propagationPolicy: "Background" });
      this.d.log?.info(`kubernetes: deleted Job ${name}`);
    } catch (err) {
      if (apiCode(err) !== 404) throw new Error(`kubernetes: could not delete Job ${name}: ${apiMessage(err)}`);
    }
  }

  private runningLogTarget(state: RunState): { pod: string; container: string } | undefined {
    const p = newestPod(state);
    const name = p?.pod.metadata?.name;
    if (!p || p.gone || !name) return undefined;
    const main = p.pod.status?.containerStatuses?.find((s) => s.name === "main");
    return main?.state?.running || main?.state?.terminated ? { pod: name, container: "main" } : undefined;
  }

  /**
   * Saves the run's log to the LogStore before `finished` goes out: one bounded `pods/log`
   * read of the container that ran, then `note` (YACI's own explanation) when there is one.
   */
  private async saveLog(state: RunState, target: { pod: string; container: string } | undefined, note: string): Promise<void> {
    if (!target) {
      if (note || (await this.d.logStore.size(state.id)) === 0) await this.d.logStore.write(state.id, note);
      return;
    }
    try {
      await saveFinalLog({
        kc: this.d.kc,
        namespace: this.d.namespace,
        pod: target.pod,
        container: target.container,
        runId: state.id,
        logStore: this.d.logStore,
        maxBytes: this.d.options.logMaxBytes,
        secrets: state.token ? [state.token] : [],
        ...(note ? { trailer: note } : {}),
      });
    } catch (err) {
      const msg = `yaci: the log of ${target.container} could not be read from Kubernetes: ${apiMessage(err)}\n`;
      this.d.log?.warn(`kubernetes: ${state.id}: ${msg.trim()}`);
      await this.d.logStore.write(state.id, msg + note);
    }
  }
}

