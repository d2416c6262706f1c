import { randomUUID } from "node:crypto";
import type { JobConfig } from "../config/yaci-config.js";
import { applyObservation } from "../core/run.js";
import type { Notice, RunKey, RunRecord, RunSpec } from "../core/run.js";
import type { Conclusion } from "../core/status.js";
import { runId } from "../core/run-id.js";
import { shouldRefreshPosition } from "../core/queue-policy.js";
import type { Trigger } from "../core/trigger.js";
import type { Executor, JobObservation } from "../executors/executor.js";
import type { Logger } from "../logger.js";
import { realTimers, type Timers } from "../clock.js";
import type { RunStore } from "./run-store.js";
import type { Reporter } from "./reporter.js";

export interface SchedulerEvents {
  runStarted?(r: RunRecord): void;
  runFinished?(r: RunRecord): void;
  startFailed?(r: RunRecord, err: unknown): void;
  /** How many runs wait for the executor (queued). */
  queueChanged?(depth: number): void;
  /** Runs waiting for a runner, per installation (every installation that had some, 0 once empty). */
  queueDepthByInstallation?(depths: Map<string, number>): void;
  /** A run got a runner (or ended waiting) after waiting this long since it was accepted. */
  queueWait?(installation: string, seconds: number): void;
}

export interface SchedulerDeps {
  store: RunStore;
  executor: Executor;
  reporter: Reporter;
  log: Logger;
  now?: () => Date;
  events?: SchedulerEvents;
  /** Timers of the retries of observations that could not be stored (a full disk). */
  timers?: Timers;
  /** Waits before storing such an observation again; the last one repeats (default 1 s → 30 s). */
  storeRetryDelaysMs?: number[];
  /**
   * Whether the run's installation has room in its write budget for a queued check run's new
   * position (default: always). Without room the position is not refreshed (final results first).
   */
  positionHeadroom?: (r: RunRecord) => boolean;
}

/** The name of the check run that reports a broken `.yaci.yml`. */
export const CONFIG_CHECK_NAME = "yaci";
/** The name of the check run that asks a maintainer to approve a fork's pull request. */
export const APPROVAL_CHECK_NAME = "yaci/approval";

/**
 * The status follower: accepts planned jobs, starts them on the executor, turns every observation
 * into a record change and a check-run report. One instance serves every executor.
 */
export class Scheduler {
  private readonly now: () => Date;
  private readonly unsubscribe: () => void;
  /** Runs whose claim is in flight, with the observations held back meanwhile (see `launch`). */
  private readonly claiming = new Map<string, JobObservation[]>();
  /**
   * Observations whose new state could not be stored (`store.put` threw: a full disk), in arrival
   * order per run: applied again on a timer and before the next observation, never dropped.
   */
  private readonly unstored = new Map<string, JobObservation[]>();
  private storeRetry: { handle: unknown; failures: number } | undefined;
  /** When each queued run's position was last put on its record (to refresh it rarely). */
  private readonly positionShownAt = new Map<string, number>();
  /** Installations that had runs waiting at the last count, for the per-installation depth. */
  private readonly queuedInstallations = new Set<string>();

  constructor(private readonly deps: SchedulerDeps) {
    this.now = deps.now ?? (() => new Date());
    this.unsubscribe = deps.executor.subscribe((o) => this.observe(o));
  }

  private newRecord(spec: RunSpec): RunRecord {
    return { spec, executor: this.deps.executor.kind, phase: "queued", createdAt: this.now().toISOString() };
  }

  private specFor(trigger: Trigger, job: JobConfig, attempt: number): RunSpec {
    const key: RunKey = { owner: trigger.owner, repo: trigger.repo, sha: trigger.sha, job: job.name };
    const spec: RunSpec = {
      id: runId(key, attempt),
      key,
      attempt,
      event: trigger.event,
      installationId: trigger.installationId,
      ref: trigger.ref,
      image: job.image,
      run: job.run,
      timeoutMs: job.timeoutMs,
      env: job.env,
      checkout: true,
      acceptedAt: this.now().toISOString(),
    };
    if (trigger.prNumber !== undefined) spec.prNumber = trigger.prNumber;
    if (job.resources) spec.resources = job.resources;
    return spec;
  }

  /**
   * Accepts a commit's jobs: one run per (repository, SHA, job), however many events name the SHA.
   * Records are persisted before this returns; starting and reporting happen in the background.
   */
  accept(trigger: Trigger, jobs: JobConfig[]): RunRecord[] {
    const accepted: RunRecord[] = [];
    for (const job of jobs) {
      const key: RunKey = { owner: trigger.owner, repo: trigger.repo, sha: trigger.sha, job: job.name };
      if (this.deps.store.attempts(key).length > 0) continue; // already runs for this SHA
      const r = this.newRecord(this.specFor(trigger, job, 1));
      this.deps.store.put(r);
      accepted.push(r);
      this.launchLogged(r, true);
    }
    return accepted;
  }

  /**
   * A check run that reports something other than a job (a broken `.yaci.yml`: failure; a fork
   * waiting for approval: action_required). One per (repository, SHA, name).
   */
  acceptNotice(trigger: Trigger, name: string, notice: Notice, conclusion: Conclusion): RunRecord | undefined {
    const key: RunKey = { owner: trigger.owner, repo: trigger.repo, sha: trigger.sha, job: name };
    if (this.deps.store.attempts(key).length > 0) return undefined;
    const at = this.now().toISOString();
    const spec: RunSpec = {
      ...this.specFor(trigger, { name, image: "", run: "", timeoutMs: 0, env: {} }, 1),
      checkout: false,
      notice,
    };
    const r: RunRecord = {
      ...this.newRecord(spec),
      phase: "completed",
      outcome: conclusion === "success" ? "succeeded" : "failed",
      conclusion,
      startedAt: at,
      finishedAt: at,
    };
    this.deps.store.put(r);
    void this.deps.reporter.report(spec.id);
    return r;
  }

  /** Changes what a notice's check run says (e.g. "Approved by @maintainer"). */
  resolveNotice(id: string, conclusion: Conclusion, message: string): void {
    const r = this.deps.store.get(id);
    if (!r?.spec.notice) return;
    this.deps.store.put({ ...r, conclusion, message });
    void this.deps.reporter.report(id);
  }

  /** The notices named `name` (e.g. `yaci/approval`) of a pull request, over all its commits. */
  noticesOf(owner: string, repo: string, prNumber: number, name: string): RunRecord[] {
    return this.deps.store.list(
      (x) => !!x.spec.notice && x.spec.prNumber === prNumber && x.spec.key.job === name && x.spec.key.owner === owner && x.spec.key.repo === repo,
    );
  }

  /** The newest attempt of every job YACI ran for a commit. */
  latestRuns(owner: string, repo: string, sha: string): RunRecord[] {
    const latest = new Map<string, RunRecord>();
    for (const r of this.deps.store.list(
      (x) => x.spec.key.owner === owner && x.spec.key.repo === repo && x.spec.key.sha === sha,
    )) {
      const prev = latest.get(r.spec.key.job);
      if (!prev || prev.spec.attempt < r.spec.attempt) latest.set(r.spec.key.job, r);
    }
    return [...latest.values()];
  }

  /**
   * Runs a finished job again as a new attempt (a new check run of the same name, which GitHub
   * shows in place of the old one). Returns undefined when the job is still running.
   */
  rerun(id: string): RunRecord | undefined {
    const r = this.deps.store.get(id);
    if (!r || r.phase !== "completed" || r.spec.notice) return undefined;
    const attempt = Math.max(...this.deps.store.attempts(r.spec.key).map((a) => a.spec.attempt)) + 1;
    // A re-run queues like any new job: its place in line is now.
    const next = this.newRecord({ ...r.spec, id: runId(r.spec.key, attempt), attempt, acceptedAt: this.now().toISOString() });
    this.deps.store.put(next);
    this.launchLogged(next, true);
    return next;
  }

  /** Cancels the unfinished runs of older commits on the trigger's branch or pull request. */
  supersede(trigger: Trigger): string[] {
    const stale = this.deps.store.list(
      (x) =>
        x.phase !== "completed" &&
        !x.spec.notice &&
        x.spec.key.owner === trigger.owner &&
        x.spec.key.repo === trigger.repo &&
        x.spec.ref === trigger.ref &&
        x.spec.key.sha !== trigger.sha,
    );
    for (const r of stale) void this.cancel(r.spec.id, `superseded by ${trigger.sha.slice(0, 7)}`);
    return stale.map((r) => r.spec.id);
  }

  /** `POST /run`: a command with no repository, reported only through the API. */
  submitCommand(command: string, image = "alpine"): RunRecord {
    const uuid = randomUUID();
    const spec: RunSpec = {
      id: `yaci-run-${uuid}`,
      key: { owner: "", repo: "", sha: uuid, job: "run" },
      attempt: 1,
      event: "api",
      installationId: 0,
      ref: "",
      image,
      run: command,
      errexit: false, // `sh -c`, as the original API ran it
      timeoutMs: 60 * 60 * 1000,
      env: {},
      checkout: false,
      acceptedAt: this.now().toISOString(),
    };
    const r = this.newRecord(spec);
    this.deps.store.put(r);
    this.launchLogged(r, true);
    return r;
  }

  /** `launch` in the background: whatever it throws is logged (the run stays in the store for the next start). */
  private launchLogged(r: RunRecord, fresh = false): void {
    this.launch(r, fresh).catch((err: unknown) => this.deps.log.error({ runId: r.spec.id, err: (err as Error)?.message ?? String(err) }, "could not launch the run"));
  }

  /** Starts a run; `fresh` = first start (not a restart's), when a shared backend may say it is taken. */
  private async launch(r: RunRecord, fresh = false): Promise<void> {
    const { executor, store, log } = this.deps;
    if (fresh && executor.claim) {
      // Until the claim is won, what the executor sees of this job may be another replica's: held back.
      this.claiming.set(r.spec.id, []);
      let held: JobObservation[] = [];
      try {
        const claim = await executor.claim(r.spec);
        held = this.claiming.get(r.spec.id) ?? [];
        this.claiming.delete(r.spec.id);
        if (claim === "exists") {
          // Another replica (or an earlier delivery) created this very job: it reports it, not us.
          store.remove(r.spec.id);
          log.info({ runId: r.spec.id }, "job already created elsewhere: left to its creator");
          return;
        }
      } catch (err) {
        this.claiming.delete(r.spec.id);
        return this.failStart(r, err);
      }
      for (const o of held) this.observe(o);
    }
    // The job starts without waiting for its queued write: the reporter writes whatever state the
    // run is in when its turn comes (created in progress, or completed, when the job was quicker).
    void this.deps.reporter.report(r.spec.id);
    try {
      await this.deps.executor.start(r.spec);
      this.deps.events?.runStarted?.(r);
    } catch (err) {
      this.failStart(r, err);
    }
  }

  private failStart(r: RunRecord, err: unknown): void {
    this.deps.log.error({ runId: r.spec.id, err }, "could not start the job");
    this.deps.events?.startFailed?.(r, err);
    this.observe({
      runId: r.spec.id,
      phase: "finished",
      outcome: "error",
      finishedAt: this.now(),
      message: `could not start: ${(err as Error).message}`,
    });
  }

  /**
   * Applies one observation; repeats and late arrivals change nothing. One whose new state cannot
   * be stored (a full disk) is kept, with those of its run that follow it, and applied again later.
   */
  observe(o: JobObservation): void {
    const held = this.claiming.get(o.runId);
    if (held) {
      held.push(o);
      return;
    }
    if (o.phase === "pending" && o.queuePosition) o = this.throttlePosition(o);
    if (this.unstored.size > 0) this.storeUnstored();
    const waiting = this.unstored.get(o.runId);
    if (waiting) return void waiting.push(o); // behind the earlier ones of its run, in order
    if (!this.apply(o)) {
      this.unstored.set(o.runId, [o]);
      this.retryUnstoredLater();
    }
  }

  /** A queued run's new position applies only when `shouldRefreshPosition` and the budget allow it. */
  private throttlePosition(o: Extract<JobObservation, { phase: "pending" }>): JobObservation {
    const r = this.deps.store.get(o.runId);
    if (!r || r.phase !== "queued" || !o.queuePosition) return o;
    const now = this.now().getTime();
    const since = now - (this.positionShownAt.get(o.runId) ?? 0);
    const refresh = shouldRefreshPosition(r.queuePosition, o.queuePosition, since) && (this.deps.positionHeadroom?.(r) ?? true);
    if (refresh) {
      if (r.queuePosition?.ahead !== o.queuePosition.ahead) this.positionShownAt.set(o.runId, now);
      return o;
    }
    const { queuePosition: _dropped, ...rest } = o;
    return rest;
  }

  /** Applies observations that could not be stored before, in order; false while the store still fails. */
  private storeUnstored(): boolean {
    for (const [runId, list] of [...this.unstored]) {
      while (list.length > 0 && this.apply(list[0]!)) list.shift();
      if (list.length === 0) this.unstored.delete(runId);
      else return false;
    }
    return true;
  }

  private retryUnstoredLater(): void {
    if (this.storeRetry?.handle !== undefined) return;
    const delays = this.deps.storeRetryDelaysMs ?? [1_000, 2_000, 5_000, 10_000, 30_000];
    const failures = (this.storeRetry?.failures ?? 0) + 1;
    const handle = (this.deps.timers ?? realTimers).setTimeout(() => {
      this.storeRetry = this.storeUnstored() ? undefined : { handle: undefined, failures };
      if (this.storeRetry) this.retryUnstoredLater();
    }, delays[Math.min(failures, delays.length) - 1] ?? 30_000);
    this.storeRetry = { failures, handle };
  }

  /** Applies one observation to its run's record and reports it; false when the new state could not be stored. */
  private apply(o: JobObservation): boolean {
    const r = this.deps.store.get(o.runId);
    if (!r) return true; // not ours (another replica's run)
    const next = applyObservation(r, o);
    if (!next) return true;
    try {
      this.deps.store.put(next);
    } catch (err) {
      const e = (err as Error)?.message ?? String(err);
      this.deps.log.error({ runId: o.runId, phase: next.phase, err: e }, `could not store the run's new state (${next.phase}); will try again`);
      return false;
    }
    this.deps.log.info({ runId: o.runId, phase: next.phase, conclusion: next.conclusion }, `run ${next.phase}`);
    if (next.phase === "completed") {
      this.deps.events?.runFinished?.(next);
      // API runs have no check run: their result is "reported" once it is stored.
      if (next.spec.event === "api") {
        Promise.resolve(this.deps.executor.markReported?.(next.spec.id)).catch((err) =>
          this.deps.log.warn({ runId: o.runId, err: (err as Error).message }, "could not mark the API run reported"),
        );
      }
    }
    if (next.phase !== r.phase) {
      this.positionShownAt.delete(o.runId);
      if (r.phase === "queued") {
        const since = Date.parse(r.spec.acceptedAt ?? r.createdAt);
        const until = Date.parse(next.startedAt ?? next.finishedAt ?? this.now().toISOString());
        if (!r.spec.notice && Number.isFinite(since)) this.deps.events?.queueWait?.(String(r.spec.installationId), Math.max(0, (until - since) / 1000));
      }
      this.countQueue();
    }
    void this.deps.reporter.report(o.runId);
    return true;
  }

  /** Tells the queue depth, in all and per installation (metrics: 0 for those emptied). */
  private countQueue(): void {
    const queued = this.deps.store.list((x) => x.phase === "queued");
    this.deps.events?.queueChanged?.(queued.length);
    if (!this.deps.events?.queueDepthByInstallation) return;
    const depths = new Map([...this.queuedInstallations].map((id) => [id, 0]));
    this.queuedInstallations.clear();
    for (const r of queued) {
      const id = String(r.spec.installationId);
      depths.set(id, (depths.get(id) ?? 0) + 1);
      this.queuedInstallations.add(id);
    }
    this.deps.events.queueDepthByInstallation(depths);
  }

  /** Stops a run; `by` says who or what, for the summary. Safe to call twice. */
  async cancel(id: string, by?: string): Promise<void> {
    const r = this.deps.store.get(id);
    if (!r || r.phase === "completed") return;
    if (by && !r.cancelReason) this.deps.store.put({ ...r, cancelReason: by });
    await this.deps.executor.cancel(id);
  }

  /**
   * After a restart: adopt what the executor still has, report what finished while we were away,
   * mark runs that were in progress in a process that is gone as interrupted, restart queued ones,
   * and retry reports that never reached GitHub. Nothing is reported twice.
   */
  async recover(): Promise<void> {
    const { store, executor, reporter } = this.deps;
    const recovered = await executor.recover();
    const seen = new Set<string>();
    for (const job of recovered) {
      seen.add(job.spec.id);
      let r = store.get(job.spec.id);
      if (!r) {
        r = this.newRecord(job.spec);
        store.put(r);
      }
      const next = applyObservation(r, job.observation);
      if (next) store.put(next);
      if (job.reported) {
        // The backend says the final result already reached GitHub: remember that, write nothing.
        const done = store.get(r.spec.id)!;
        if (done.phase === "completed" && done.reported?.phase !== "completed") {
          store.put({ ...done, reported: { phase: "completed", conclusion: done.conclusion, digest: "recovered" } });
        }
      }
    }
    // Queued runs go back in line in the order they were accepted.
    const acceptedAt = (x: RunRecord) => Date.parse(x.spec.acceptedAt ?? x.createdAt) || 0;
    const left = store.list((x) => x.executor === executor.kind && !seen.has(x.spec.id)).sort((a, b) => acceptedAt(a) - acceptedAt(b));
    for (const r of left) {
      if (r.phase === "in_progress") {
        this.observe({ runId: r.spec.id, phase: "finished", outcome: "interrupted", finishedAt: this.now() });
      } else if (r.phase === "queued") {
        this.launchLogged(r);
      }
    }
    for (const r of store.list((x) => x.reported?.phase !== "completed" && x.spec.event !== "api")) {
      void reporter.report(r.spec.id);
    }
  }

  close(): void {
    this.unsubscribe();
    if (this.storeRetry?.handle !== undefined) (this.deps.timers ?? realTimers).clearTimeout(this.storeRetry.handle);
    this.storeRetry = undefined;
  }
}
