import { randomUUID } from "node:crypto";
import type { JobConfig } from "../config/yaci-config.js";
import { applyObservation, type Notice, type RunKey, type RunRecord, type RunSpec } from "../core/run.js";
import type { Conclusion } from "../core/status.js";
import { runId } from "../core/run-id.js";
import type { Trigger } from "../core/trigger.js";
import type { Executor, JobObservation } from "../executors/executor.js";
import type { Logger } from "../logger.js";
import type { Timers } from "../clock.js";
import { UnstoredObservations } from "./unstored-observations.js";
import { QueueView, type QueueViewEvents } from "./queue-view.js";
import type { RunStore } from "./run-store.js";
import type { Reporter } from "./reporter.js";
import { isHeld, PipelineGate } from "./pipeline-gate.js";
import { dependentsOf } from "../core/pipeline.js";

export interface SchedulerEvents extends QueueViewEvents {
  runStarted?(r: RunRecord): void;
  runFinished?(r: RunRecord): void;
  startFailed?(r: RunRecord, err: unknown): void;
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
  /** Observations whose new state could not be stored (a full disk): applied again later, in order. */
  private readonly unstored: UnstoredObservations;
  /** Queue positions on check runs, depth and wait metrics. */
  private readonly queue: QueueView;
  /** `needs:`: holds dependents until what they need has ended. */
  private readonly gate: PipelineGate;

  constructor(private readonly deps: SchedulerDeps) {
    this.now = deps.now ?? (() => new Date());
    this.gate = new PipelineGate({
      store: deps.store,
      now: this.now,
      launch: (r) => this.launchLogged(r, true),
      observe: (o) => this.observe(o),
      report: (id) => void deps.reporter.report(id),
    });
    this.queue = new QueueView(deps.store, this.now, deps.events, deps.positionHeadroom);
    this.unstored = new UnstoredObservations((o) => this.apply(o), deps.timers, deps.storeRetryDelaysMs);
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
    if (job.needs?.length) spec.needs = job.needs;
    if (job.secrets?.length) {
      spec.secrets = job.secrets;
      // Never given to a fork's code, approved or not.
      if (trigger.fromFork) spec.secretsWithheld = "this pull request comes from a fork";
    }
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
      const r = this.gate.hold(this.newRecord(this.specFor(trigger, job, 1)));
      this.deps.store.put(r);
      accepted.push(r);
    }
    this.startAccepted(accepted);
    return accepted;
  }

  /**
   * Starts the runs that may start; shows the held ones (waiting for what they need) and decides
   * them. On a backend shared by replicas, the replica whose claim of the first ready run wins owns
   * the whole commit: the others drop its runs before showing any (no duplicate check runs).
   */
  private startAccepted(accepted: RunRecord[]): void {
    const held = accepted.filter(isHeld);
    const ready = accepted.filter((r) => !isHeld(r));
    const showHeld = () => {
      for (const r of held) void this.deps.reporter.report(r.spec.id);
      for (const r of held) this.gate.evaluate(this.deps.store.get(r.spec.id) ?? r);
    };
    if (held.length === 0 || ready.length === 0 || !this.deps.executor.claim) {
      for (const r of ready) this.launchLogged(r, true);
      return showHeld();
    }
    const [first, ...rest] = ready as [RunRecord, ...RunRecord[]];
    this.gate.undecided.begin(first); // a cancel meanwhile (a newer push) waits for the outcome
    this.launch(first, true)
      .then((ours) => {
        const cancels = this.gate.undecided.decided(first);
        if (!ours) return [...rest, ...held].forEach((r) => this.deps.store.remove(r.spec.id));
        for (const r of rest) this.launchLogged(r, true);
        showHeld();
        for (const [id, by] of cancels) void this.cancel(id, by);
      })
      .finally(() => this.gate.undecided.decided(first))
      .catch((err: unknown) => this.deps.log.error({ runId: first.spec.id, err: (err as Error)?.message ?? String(err) }, "could not launch the run"));
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
   * Runs finished jobs again as new attempts (a new check run of the same name, which GitHub
   * shows in place of the old one); jobs still running are left alone (not in the result). Each
   * waits again for what it `needs` (whose latest attempts decide), unless `alone`: then it starts
   * at once. All are recorded before any is decided, so the order of `ids` does not matter.
   */
  rerunMany(ids: string[], alone = false): RunRecord[] {
    const next: RunRecord[] = [];
    for (const id of ids) {
      const r = this.deps.store.get(id);
      if (!r || r.phase !== "completed" || r.spec.notice) continue;
      const latest = this.deps.store.attempts(r.spec.key);
      if (latest[latest.length - 1]?.phase !== "completed") continue; // already running again
      const attempt = Math.max(...latest.map((a) => a.spec.attempt)) + 1;
      // A re-run queues like any new job: its place in line is now.
      const fresh = this.newRecord({ ...r.spec, id: runId(r.spec.key, attempt), attempt, acceptedAt: this.now().toISOString() });
      const record = alone ? fresh : this.gate.hold(fresh);
      this.deps.store.put(record);
      next.push(record);
    }
    this.startAccepted(next);
    return next;
  }

  /** One job again, alone (it does not wait for what it needs); undefined while it still runs. */
  rerun(id: string): RunRecord | undefined {
    return this.rerunMany([id], true)[0];
  }

  /**
   * One job again, alone, with the jobs its failure skipped (they wait for it again, as in the
   * first run): GitHub's "Re-run" on a check run and `/retest <job>`.
   */
  rerunWithDependents(id: string): RunRecord | undefined {
    const r = this.deps.store.get(id);
    if (!r) return undefined;
    const first = this.rerun(id);
    if (!first) return undefined;
    const { owner, repo, sha } = r.spec.key;
    const latest = this.latestRuns(owner, repo, sha).filter((x) => !x.spec.notice);
    const graph = new Map(latest.map((x) => [x.spec.key.job, x.spec.needs ?? []]));
    const after = dependentsOf([r.spec.key.job], graph);
    this.rerunMany(latest.filter((x) => after.has(x.spec.key.job) && x.conclusion === "skipped").map((x) => x.spec.id));
    return first;
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

  /**
   * Starts a run; `fresh` = first start (not a restart's), when a shared backend may say it is
   * taken. False when it was: the run is another replica's (its record is gone).
   */
  private async launch(r: RunRecord, fresh = false): Promise<boolean> {
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
          return false;
        }
      } catch (err) {
        this.claiming.delete(r.spec.id);
        this.failStart(r, err);
        return true;
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
    return true;
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
    o = this.queue.throttle(o);
    this.unstored.offer(o);
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
    if (next.phase !== r.phase) this.queue.phaseChanged(r, next);
    void this.deps.reporter.report(o.runId);
    if (next.phase === "completed") this.gate.completed(next);
    return true;
  }

  /** Stops a run; `by` says who or what, for the summary. Safe to call twice. */
  async cancel(id: string, by?: string): Promise<void> {
    const r = this.deps.store.get(id);
    if (!r || r.phase === "completed" || this.gate.undecided.deferCancel(r, by)) return; // deferred: its commit's owner is undecided
    if (by && !r.cancelReason) this.deps.store.put({ ...r, cancelReason: by });
    // A run held for its needs never reached the executor: it ends here.
    if (isHeld(r)) return this.observe({ runId: id, phase: "finished", outcome: "cancelled", finishedAt: this.now() });
    await this.deps.executor.cancel(id);
  }

  /**
   * After a restart: adopt what the executor still has, report what finished while we were away,
   * mark runs that were in progress in a process that is gone as interrupted, restart queued ones,
   * and retry reports that never reached GitHub. Nothing is reported twice.
   */
  async recover(): Promise<void> {
    const { store, executor, reporter } = this.deps;
    // Only runs from before this process: those accepted while the executor lists what it holds are this process's own.
    const before = new Set(store.list((x) => x.executor === executor.kind).map((x) => x.spec.id));
    const recovered = await executor.recover();
    const seen = new Set<string>();
    for (const job of recovered) {
      seen.add(job.spec.id);
      const r = store.get(job.spec.id) ?? this.newRecord(job.spec);
      const next = applyObservation(r, job.observation);
      if (next || !store.get(r.spec.id)) store.put(next ?? r);
      const done = store.get(r.spec.id)!;
      if (job.reported && done.phase === "completed" && done.reported?.phase !== "completed") {
        // The backend says the final result already reached GitHub: remember that, write nothing.
        store.put({ ...done, reported: { phase: "completed", conclusion: done.conclusion, digest: "recovered" } });
      } else if (!job.reported && job.observation.phase === "finished" && done.reported?.phase === "completed") {
        // It reached GitHub, but the process died before it told the backend: tell it now.
        Promise.resolve(executor.markReported?.(done.spec.id)).catch((err) => this.deps.log.warn({ runId: done.spec.id, err: (err as Error).message }, "could not mark the run reported"));
      } else if (job.unstarted && done.phase === "queued") {
        this.launchLogged(done); // its creator died half-way (Kubernetes: before its Secret or start); start adopts
      }
    }
    // Queued runs go back in line in the order they were accepted.
    const acceptedAt = (x: RunRecord) => Date.parse(x.spec.acceptedAt ?? x.createdAt) || 0;
    const left = store.list((x) => before.has(x.spec.id) && !seen.has(x.spec.id)).sort((a, b) => acceptedAt(a) - acceptedAt(b));
    for (const r of left) {
      if (r.phase === "in_progress") {
        this.observe({ runId: r.spec.id, phase: "finished", outcome: "interrupted", finishedAt: this.now() });
      } else if (r.phase === "queued" && !isHeld(r)) {
        this.launchLogged(r);
      }
    }
    // What held runs need may have ended while the app was down.
    this.gate.evaluateAll();
    for (const r of store.list((x) => x.reported?.phase !== "completed" && x.spec.event !== "api")) {
      void reporter.report(r.spec.id);
    }
  }

  close(): void {
    this.unsubscribe();
    this.unstored.close();
  }
}
