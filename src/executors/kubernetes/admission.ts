import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Job, type V1Lease } from "@kubernetes/client-node";
import type { Timers } from "../../clock.js";
import { admissions, queueLimitsFromEnv, queuePositions, type QueueLimits, type QueuedRun, type RunningRun } from "../../core/queue-policy.js";
import type { RunSpec } from "../../core/run.js";
import { httpStatusOf } from "../../http-status.js";
import type { Logger } from "../../logger.js";
import type { JobObservation } from "../executor.js";
import { apiMessage } from "./api-error.js";
import { ANNOTATIONS } from "./job-manifest.js";
import { parseEnvDurationOrSeconds } from "./options.js";

/**
 * Where a Job stands in YACI's queue, on the Job itself (so it survives restarts and every replica
 * sees it): `held` (created suspended, its checkout Secret not made yet), `waiting` (may be
 * admitted), `admitted` (unsuspended by the admitting replica). A Job without it is not queued by
 * YACI (made by an older version, or handed to Kueue).
 */
export const QUEUE_ANNOTATION = "yaci.dev/queue";
export type QueueState = "held" | "waiting" | "admitted";

/** The label by which Kueue manages a Job (its LocalQueue). */
export const KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name";

export interface QueueSettings {
  limits: QueueLimits;
  /** YACI_LEASE_NAME (default `yaci-admission`). */
  leaseName?: string;
  /** How long the Lease holds without renewal (YACI_LEASE_DURATION, whole seconds, default 15 s); renewed every third of it. */
  leaseDurationMs?: number;
  /** This replica's identity in the Lease (default: host name and a random suffix). */
  identity?: string;
  /** YACI_KUEUE_QUEUE: the LocalQueue whose Kueue admits YACI's Jobs. */
  kueueQueue?: string;
}

/** The queue settings from the environment (YACI_MAX_RUNNING, YACI_MAX_RUNNING_PER_INSTALLATION, YACI_LEASE_NAME, YACI_LEASE_DURATION, YACI_KUEUE_QUEUE). */
export function queueSettingsFromEnv(env: Record<string, string | undefined>): QueueSettings | undefined {
  const kueueQueue = env.YACI_KUEUE_QUEUE?.trim();
  if (kueueQueue) {
    if (!/^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/.test(kueueQueue)) throw new Error(`YACI_KUEUE_QUEUE must be a LocalQueue name (a DNS label), got "${kueueQueue}"`);
    return { limits: {}, kueueQueue };
  }
  // YACI_LOCAL_CONCURRENCY is the local executor's.
  const limits = queueLimitsFromEnv({ ...env, YACI_LOCAL_CONCURRENCY: undefined });
  if (limits.maxRunning === undefined && limits.maxRunningPerInstallation === undefined) return undefined;
  return { limits, leaseName: env.YACI_LEASE_NAME?.trim() || "yaci-admission", ...leaseDurationFromEnv(env) };
}

/** YACI_LEASE_DURATION (`15s`, `1m` or bare seconds): whole seconds ≥ 1, as a Lease counts them. */
function leaseDurationFromEnv(env: Record<string, string | undefined>): { leaseDurationMs?: number } {
  const text = env.YACI_LEASE_DURATION?.trim();
  if (!text) return {};
  const ms = parseEnvDurationOrSeconds("YACI_LEASE_DURATION", text);
  if (ms < 1000 || ms % 1000 !== 0) throw new Error(`YACI_LEASE_DURATION: ${JSON.stringify(text)} must be a whole number of seconds, at least 1s (a Lease counts in seconds)`);
  return { leaseDurationMs: ms };
}

/** A queued Job is created suspended: Kueue (its label) or the admitting replica lets it start. */
export function queueJob(body: V1Job, spec: Pick<RunSpec, "checkout">, queue: QueueSettings): void {
  if (!body.spec) return;
  body.spec.suspend = true;
  body.metadata ??= {};
  if (queue.kueueQueue) body.metadata.labels = { ...body.metadata.labels, [KUEUE_QUEUE_LABEL]: queue.kueueQueue };
  else body.metadata.annotations = { ...body.metadata.annotations, [QUEUE_ANNOTATION]: spec.checkout ? "held" : "waiting" };
}

export interface AdmissionDeps {
  kc: KubeConfig;
  namespace: string;
  limits: QueueLimits;
  /** The Lease only one replica holds: that one admits (YACI_LEASE_NAME). */
  leaseName: string;
  leaseDurationMs: number;
  /** This process, as the Lease's `holderIdentity`. */
  identity: string;
  /** Unsuspends a Job (marking it `admitted`); the executor's patch, retried on transient errors. */
  admit(name: string): Promise<void>;
  /** Tells a waiting run's place in line (a `pending` observation). */
  emit(o: JobObservation): void;
  now: () => Date;
  timers: Timers;
  log?: Logger;
}

/** What the queue needs of one Job. */
interface Entry {
  run: QueuedRun;
  suspended: boolean;
  state?: QueueState;
  finished: boolean;
}

function entryOf(job: V1Job): Entry | undefined {
  const name = job.metadata?.name;
  if (!name) return undefined;
  const a = job.metadata?.annotations ?? {};
  let acceptedAt = NaN;
  try {
    const spec = JSON.parse(a[ANNOTATIONS.spec] ?? "{}") as Partial<RunSpec>;
    if (spec.acceptedAt) acceptedAt = Date.parse(spec.acceptedAt);
  } catch {
    // no readable spec: its creation time will do
  }
  if (!Number.isFinite(acceptedAt)) acceptedAt = new Date(job.metadata?.creationTimestamp ?? 0).getTime() || 0;
  const finished = (job.status?.conditions ?? []).some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
  const state = a[QUEUE_ANNOTATION];
  return {
    run: { id: name, installation: a[ANNOTATIONS.installationId] ?? "0", repository: a[ANNOTATIONS.repository] ?? "", acceptedAt },
    suspended: job.spec?.suspend === true,
    ...(state === "held" || state === "waiting" || state === "admitted" ? { state: state as QueueState } : {}),
    finished,
  };
}

/**
 * The cluster-wide fair queue of the Kubernetes executor. Every replica keeps the same view of
 * YACI's Jobs (from the executor's watch) and tells its runs' places in line; only the replica
 * that holds the Lease admits, by unsuspending the Jobs the policy picks, up to the limits. A Job
 * that is unsuspended and not finished holds a runner, even while its pod cannot be scheduled.
 * The Lease is renewed every third of its duration and taken over once it has lapsed.
 */
export class Admission {
  private readonly coordination: CoordinationV1Api;
  private readonly jobs = new Map<string, Entry>();
  /** Jobs this replica unsuspended whose change the watch has not shown yet. */
  private readonly admitting = new Set<string>();
  private leader = false;
  private lastRenewal = 0;
  /** An admission pass found the Lease possibly lapsed: the next renewal runs one again. */
  private skipped = false;
  private renewTimer: unknown;
  private pass: unknown;
  private closed = false;

  /** The admission for `settings` (with limits, without Kueue). */
  static create(kc: KubeConfig, namespace: string, settings: QueueSettings, rest: Pick<AdmissionDeps, "admit" | "emit" | "now" | "timers" | "log">): Admission {
    return new Admission({
      kc,
      namespace,
      limits: settings.limits,
      leaseName: settings.leaseName ?? "yaci-admission",
      leaseDurationMs: settings.leaseDurationMs ?? 15_000,
      identity: settings.identity ?? `${hostname()}-${randomUUID().slice(0, 8)}`,
      ...rest,
    });
  }

  constructor(private readonly d: AdmissionDeps) {
    this.coordination = d.kc.makeApiClient(CoordinationV1Api);
  }

  /** Is this replica the one that admits? */
  get isLeader(): boolean {
    return this.leader;
  }

  /** Starts taking part in the Lease (idempotent). */
  start(): void {
    if (this.renewTimer !== undefined || this.closed) return;
    const loop = async () => {
      await this.renew();
      if (!this.closed) this.renewTimer = this.d.timers.setTimeout(() => void loop(), Math.max(50, Math.floor(this.d.leaseDurationMs / 3)));
    };
    this.renewTimer = this.d.timers.setTimeout(() => void loop(), 0);
  }

  onJobList(items: V1Job[]): void {
    this.jobs.clear();
    for (const job of items) this.onJob(job);
    this.changed();
  }

  onJobEvent(type: string, job: V1Job): void {
    const name = job.metadata?.name;
    if (!name) return;
    if (type === "DELETED") this.jobs.delete(name);
    else this.onJob(job);
    this.changed();
  }

  private onJob(job: V1Job): void {
    const e = entryOf(job);
    if (!e) return;
    if (!e.suspended) this.admitting.delete(e.run.id);
    this.jobs.set(e.run.id, e);
  }

  /** One admission pass soon, for however many changes arrive meanwhile. */
  private changed(): void {
    if (this.pass !== undefined || this.closed) return;
    this.pass = this.d.timers.setTimeout(() => {
      this.pass = undefined;
      void this.admitAndTell();
    }, 0);
  }

  private lines(): { queued: QueuedRun[]; running: RunningRun[] } {
    const queued: QueuedRun[] = [];
    const running: RunningRun[] = [];
    for (const e of this.jobs.values()) {
      if (e.finished) continue;
      if (!e.suspended || this.admitting.has(e.run.id)) running.push(e.run);
      else if (e.state === "waiting") queued.push(e.run);
    }
    return { queued, running };
  }

  private async admitAndTell(): Promise<void> {
    // Only on a Lease that cannot have lapsed yet (by this replica's last renewal): a replica that
    // stalled past it may already have been replaced, and learns so at its next renewal.
    const current = this.d.now().getTime() - this.lastRenewal < this.d.leaseDurationMs;
    this.skipped = this.leader && !current;
    if (this.leader && current) {
      const { queued, running } = this.lines();
      const picked = admissions(queued, running, this.d.limits);
      for (const run of picked) this.admitting.add(run.id);
      await Promise.all(
        picked.map((run) =>
          this.d.admit(run.id).catch((err: unknown) => {
            this.admitting.delete(run.id);
            this.d.log?.warn({ runId: run.id }, `kubernetes: could not admit Job ${run.id}: ${(err as Error).message}`);
          }),
        ),
      );
    }
    const { queued, running } = this.lines();
    const positions = queuePositions(queued, running);
    for (const [runId, queuePosition] of positions) this.d.emit({ runId, phase: "pending", queuePosition });
  }

  /** Takes, renews or watches the Lease; never throws. */
  private async renew(): Promise<void> {
    const { namespace, leaseName: name, identity, leaseDurationMs } = this.d;
    const now = this.d.now().getTime();
    const spec = (from?: V1Lease) => ({
      holderIdentity: identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(leaseDurationMs / 1000)),
      acquireTime: from?.spec?.holderIdentity === identity && from.spec.acquireTime ? from.spec.acquireTime : new V1MicroTime(now),
      renewTime: new V1MicroTime(now),
      leaseTransitions: (from?.spec?.leaseTransitions ?? 0) + (from && from.spec?.holderIdentity !== identity ? 1 : 0),
    });
    let won = false;
    /** Only a written renewal extends it: a failed one keeps the last until that lapses. */
    let wrote = false;
    try {
      let lease: V1Lease | undefined;
      try {
        lease = await this.coordination.readNamespacedLease({ name, namespace });
      } catch (err) {
        if (httpStatusOf(err) !== 404) throw err;
      }
      if (!lease) {
        await this.coordination.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: spec() } });
        won = wrote = true;
      } else {
        const holder = lease.spec?.holderIdentity;
        const renewed = timeOf(lease.spec?.renewTime);
        const lapsed = !holder || renewed + (lease.spec?.leaseDurationSeconds ?? 15) * 1000 < now;
        if (holder === identity || lapsed) {
          await this.coordination.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: spec(lease) } });
          won = wrote = true;
        }
      }
    } catch (err) {
      const status = httpStatusOf(err);
      // 409: another replica wrote the Lease first. Anything else: keep what we had until it lapses.
      if (status !== 409 && status !== 404) this.d.log?.warn({}, `kubernetes: could not renew the Lease ${name}: ${apiMessage(err)}`);
      won = status === 409 || status === 404 ? false : this.leader && now - this.lastRenewal < leaseDurationMs;
    }
    if (wrote) this.lastRenewal = now;
    if (won && this.leader && this.skipped) this.changed();
    if (won !== this.leader) {
      this.leader = won;
      this.d.log?.info({ identity }, won ? `kubernetes: this replica admits jobs (Lease ${name}, as ${identity})` : `kubernetes: another replica admits jobs (Lease ${name})`);
      if (won) this.changed();
    }
  }

  /** Stops renewing; a held Lease is given up, so another replica takes over at once. */
  async close(): Promise<void> {
    this.closed = true;
    this.d.timers.clearTimeout(this.renewTimer);
    this.d.timers.clearTimeout(this.pass);
    if (!this.leader) return;
    this.leader = false;
    try {
      const lease = await this.coordination.readNamespacedLease({ name: this.d.leaseName, namespace: this.d.namespace });
      if (lease.spec?.holderIdentity !== this.d.identity) return;
      await this.coordination.replaceNamespacedLease({
        name: this.d.leaseName,
        namespace: this.d.namespace,
        // No holder (free at once); renewTime: when it was given up (as client-go's leader election does).
        body: { ...lease, spec: { ...lease.spec, holderIdentity: undefined, renewTime: new V1MicroTime(this.d.now().getTime()) } },
      });
    } catch {
      // it lapses on its own
    }
  }
}

function timeOf(t: unknown): number {
  if (t instanceof Date) return t.getTime();
  const ms = Date.parse(String(t ?? ""));
  return Number.isFinite(ms) ? ms : 0;
}
