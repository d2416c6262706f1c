import type { RunSpec } from "../core/run.js";
import type { JobObservation } from "../core/run.js";
import type { LogTail } from "../logs/log-store.js";

export type { JobObservation } from "../core/run.js";

/** A job the backend still knows about after a restart, with the spec it was started from. */
export interface RecoveredJob {
  spec: RunSpec;
  observation: JobObservation;
  /** Set when the backend already holds the mark that the final result was reported. */
  reported?: boolean;
  /**
   * Set when the process that created the job died before it was started (Kubernetes: before its
   * token Secret and the start): `start` adopts the job and finishes starting it.
   */
  unstarted?: boolean;
}

/** Supplies a checkout token for one repository (contents: read), minted on demand. */
export type CheckoutTokenSource = (spec: RunSpec) => Promise<string>;

/**
 * Runs jobs. Lifecycle contract, for every implementation:
 * - `start` is idempotent per `spec.id`: a second start of the same id adopts the existing job.
 *   It returns once the job is accepted (not finished); the job may wait in a queue (`pending`).
 * - Observations arrive through `subscribe`, for all jobs on one stream (never one watch per job).
 *   They may repeat; `finished` is the last one for a job.
 * - `cancel` is safe to call twice, after a failed start, or for a job that is already gone;
 *   the job then finishes with outcome `cancelled` (if it had not finished already).
 * - `recover` is called once at start-up: it lists jobs left by a previous process, and kills or
 *   adopts them (the local executor kills orphaned process groups: outcome `interrupted`).
 * - `markReported` records that a job's final result reached GitHub (so a restart will not
 *   report it twice). Optional for executors whose state lives in the run store.
 * - Logs end up in the LogStore under `spec.id` by the time `finished` is observed.
 */
export interface Executor {
  readonly kind: "local" | "kubernetes" | "fake";
  /** Set when jobs are not isolated from the app (the local executor without its sandbox): every check run's summary shows it. */
  readonly isolationWarning?: string;
  start(spec: RunSpec): Promise<void>;
  /**
   * Optional, for backends shared by several app replicas (Kubernetes): creates the job atomically
   * and says whether this call created it or it existed already (another replica, or an earlier
   * delivery, created it). A new run that "exists" belongs to its creator: this process neither
   * starts nor reports it. A `start` after a successful claim must not create the job again.
   */
  claim?(spec: RunSpec): Promise<"created" | "exists">;
  subscribe(onObservation: (o: JobObservation) => void): () => void;
  cancel(runId: string): Promise<void>;
  recover(): Promise<RecoveredJob[]>;
  markReported?(runId: string): Promise<void>;
  /**
   * Optional, for executors that store a log only when the job ends (Kubernetes): while someone
   * watches a running job (its run page), copy its live output into the LogStore, from the start,
   * until `signal` aborts or the job ends. Several watchers of one run share one stream; the
   * final log written at the end replaces what was copied.
   */
  followLog?(runId: string, signal: AbortSignal): void;
  /**
   * Optional: the end of a RUNNING job's log so far (at most about `maxBytes`), for its check run
   * while it runs; undefined once the job has ended (or is ending), and when there is nothing to
   * read now (Kubernetes: the per-minute cap on pod-log reads is used up). Never waits for output.
   */
  liveLog?(runId: string, maxBytes: number): Promise<LogTail | undefined>;
  /** Is the backend reachable (for `/readyz`)? */
  ready(): Promise<boolean>;
  /** Stop watching and release resources (tests, shutdown). Running jobs are left alone. */
  close(): Promise<void>;
}
