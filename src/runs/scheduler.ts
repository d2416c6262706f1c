import { randomUUID } from "node:crypto";
import type { JobConfig } from "../config/yaci-config.js";
import { applyObservation } from "../core/run.js";
import type { Notice, RunKey, RunRecord, RunSpec } from "../core/run.js";
import type { Conclusion } from "../core/status.js";
import { runId } from "../core/run-id.js";
import type { Trigger } from "../core/trigger.js";
import type { Executor, JobObservation } from "../executors/executor.js";
import type { Logger } from "../logger.js";
import type { RunStore } from "./run-store.js";
import type { Reporter } from "./reporter.js";

export interface SchedulerEvents {
  runStarted?(r: RunRecord): void;
  runFinished?(r: RunRecord): void;
  startFailed?(r: RunRecord, err: unknown): void;
  /** How many runs wait for the executor (queued). */
  queueChanged?(depth: number): void;
}

export interface SchedulerDeps {
  store: RunStore;
  executor: Executor;
  reporter: Reporter;
  log: Logger;
  now?: () => Date;
  events?: SchedulerEvents;
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
      void this.launch(r, true);
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
    const next = this.newRecord({ ...r.spec, id: runId(r.spec.key, attempt), attempt });
    this.deps.store.put(next);
    void this.launch(next, true);
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
    };
    const r = this.newRecord(spec);
    this.deps.store.put(r);
    void this.launch(r, true);
    return r;
  }

  /** Starts a run; `fresh` = first start (not a restart's), when a shared backend may say it is taken. */
  private async launch(r: RunRecord, fresh = false): Promise<void> {
    const { executor, store, log } = this.deps;
    try {
      if (fresh && executor.claim && (await executor.claim(r.spec)) === "exists") {
        // Another replica (or an earlier delivery) created this very job: it reports it, not us.
        store.remove(r.spec.id);
        log.info({ runId: r.spec.id }, "job already created elsewhere: left to its creator");
        return;
      }
    } catch (err) {
      return this.failStart(r, err);
    }
    // The check run shows `queued` before the job can start (a failed write is retried in the
    // background and does not hold the job back).
    await this.deps.reporter.report(r.spec.id);
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

  /** Applies one observation; repeats and late arrivals change nothing. */
  observe(o: JobObservation): void {
    const r = this.deps.store.get(o.runId);
    if (!r) return; // not ours (another replica's run)
    const next = applyObservation(r, o);
    if (!next) return;
    this.deps.store.put(next);
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
    if (next.phase !== r.phase) this.deps.events?.queueChanged?.(this.deps.store.list((x) => x.phase === "queued").length);
    void this.deps.reporter.report(o.runId);
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
    for (const r of store.list((x) => x.executor === executor.kind && !seen.has(x.spec.id))) {
      if (r.phase === "in_progress") {
        this.observe({ runId: r.spec.id, phase: "finished", outcome: "interrupted", finishedAt: this.now() });
      } else if (r.phase === "queued") {
        void this.launch(r);
      }
    }
    for (const r of store.list((x) => x.reported?.phase !== "completed" && x.spec.event !== "api")) {
      void reporter.report(r.spec.id);
    }
  }

  close(): void {
    this.unsubscribe();
  }
}
