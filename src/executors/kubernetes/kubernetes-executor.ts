import type { RunSpec } from "../../core/run.js";
import type { Executor, JobObservation, RecoveredJob } from "../executor.js";
import { cancelRun } from "./cancel-run.js";
import { createClusterWatches, type ClusterWatches } from "./cluster-watches.js";
import { createJob } from "./create-job.js";
import { deliverObservation } from "./emit-observation.js";
import { createExecutorContext, type ExecutorContext } from "./executor-context.js";
import { followLog } from "./follow-log.js";
import type { KubernetesExecutorDeps } from "./kubernetes-executor-deps.js";
import { markReported } from "./mark-reported.js";
import { recoverRuns } from "./recover-runs.js";
import { clearRunTimer } from "./run-timer.js";
import { stopLogFollow } from "./stop-log-follow.js";

export type { KubernetesExecutorDeps } from "./kubernetes-executor-deps.js";

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
 * While someone watches a running job (`followLog`), one `pods/log?follow=true` stream more.
 *
 * The work is done by free functions over one shared `ExecutorContext`: job creation
 * (`createJob`), cancellation (`cancelRun`), recovery (`recoverRuns`), the watch handlers
 * (`job-events`, `pod-events`) and delivery (`evaluateRun`, `finishRun`).
 */
export class KubernetesExecutor implements Executor {
  readonly kind = "kubernetes" as const;
  private readonly ctx: ExecutorContext;
  private readonly watches: ClusterWatches;
  private started = false;

  constructor(d: KubernetesExecutorDeps) {
    this.ctx = createExecutorContext(d);
    this.watches = createClusterWatches(this.ctx);
  }

  get namespace(): string {
    return this.ctx.d.namespace;
  }

  private ensureStarted(): void {
    if (this.started || this.ctx.closed) return;
    this.started = true;
    this.watches.jobs.start();
    this.watches.pods.start();
  }

  subscribe(onObservation: (o: JobObservation) => void): () => void {
    this.ensureStarted();
    const { listeners, queued } = this.ctx;
    listeners.add(onObservation);
    if (queued.length) for (const o of queued.splice(0)) deliverObservation(this.ctx, onObservation, o);
    return () => listeners.delete(onObservation);
  }

  /** Creates the Job (atomic across replicas: a 409 means someone else created it first). */
  async claim(spec: RunSpec): Promise<"created" | "exists"> {
    this.ensureStarted();
    return createJob(this.ctx, spec, true);
  }

  async start(spec: RunSpec): Promise<void> {
    if (this.ctx.claimedIds.has(spec.id)) return; // created by claim() a moment ago
    this.ensureStarted();
    await createJob(this.ctx, spec, false);
  }

  async cancel(runId: string): Promise<void> {
    this.ensureStarted();
    await cancelRun(this.ctx, runId);
  }

  async recover(): Promise<RecoveredJob[]> {
    this.ensureStarted();
    return recoverRuns(this.ctx, this.watches);
  }

  /** Copies a running job's output into the LogStore while `signal` is not aborted (shared per run). */
  followLog(runId: string, signal: AbortSignal): void {
    this.ensureStarted();
    followLog(this.ctx, runId, signal);
  }

  async markReported(runId: string): Promise<void> {
    await markReported(this.ctx, runId);
  }

  async ready(): Promise<boolean> {
    this.ensureStarted();
    return this.watches.jobs.healthy && this.watches.pods.healthy;
  }

  /** Why `ready()` is false, for `/readyz` and logs. */
  notReadyReason(): string | undefined {
    return this.watches.jobs.lastError ?? this.watches.pods.lastError;
  }

  async close(): Promise<void> {
    this.ctx.closed = true;
    for (const s of this.ctx.states.values()) clearRunTimer(this.ctx, s);
    await Promise.all([...this.ctx.follows.keys()].map((id) => stopLogFollow(this.ctx, id)));
    await Promise.all([this.watches.jobs.stop(), this.watches.pods.stop()]);
    await Promise.allSettled([...this.ctx.inFlight]);
  }
}
