import { reportedStateOf, sameReportedState, toCheckRunUpdate, type CheckRunUpdate, type LiveLog } from "../core/check-update.js";
import type { RunRecord } from "../core/run.js";
import type { LogStore, LogTail } from "../logs/log-store.js";
import { EXCERPT_READ_BYTES, logExcerpt } from "../logs/excerpt.js";
import type { RunStore } from "./run-store.js";
import { batchAnnotations, parseAnnotations, type Annotation } from "../logs/annotations.js";
import type { Conclusion } from "../core/status.js";
import { httpStatusOf } from "../http-status.js";
import type { Logger } from "../logger.js";

/** What a write was, for metrics: a queued or in-progress state, a final one, or one the budget skipped. */
export type WriteKind = "queued" | "in_progress" | "final" | "skipped";

/** An intermediate write refused by the installation's write budget (github/octokit.ts `WriteSkipped`). */
function skippedWrite(err: unknown): { retryInMs: number } | undefined {
  const e = err as { skipped?: unknown; retryInMs?: unknown } | undefined;
  return e?.skipped === true ? { retryInMs: typeof e.retryInMs === "number" ? e.retryInMs : 10_000 } : undefined;
}

/**
 * Smaller versions of a write, for when GitHub refuses it as invalid (422): without the log and
 * annotations, then with a bare title and summary. A final result must reach GitHub.
 */
export function smallerUpdates(u: CheckRunUpdate, why: string): CheckRunUpdate[] {
  const note = `\n\n**Note:** GitHub refused this check run's full output (${why.slice(0, 200)}); the log is on the run page.`;
  const withoutLog: CheckRunUpdate = { ...u, summary: u.summary.slice(0, 60_000) + note };
  delete withoutLog.text;
  delete withoutLog.annotations;
  const bare: CheckRunUpdate = {
    name: u.name,
    headSha: u.headSha,
    externalId: u.externalId,
    status: u.status,
    title: u.title.slice(0, 200),
    summary: `GitHub refused this check run's full report (${why.slice(0, 200)}).`,
  };
  if (u.conclusion) bare.conclusion = u.conclusion;
  if (u.completedAt) bare.completedAt = u.completedAt;
  if (u.startedAt) bare.startedAt = u.startedAt;
  return [withoutLog, bare];
}

/** Where a check run lives on GitHub. */
export interface CheckRunTarget {
  installationId: number;
  owner: string;
  repo: string;
}

/** The GitHub calls the reporter needs (a narrow port owned by its consumer; `github/check-runs.ts` implements it). */
export interface CheckRunWriter {
  create(target: CheckRunTarget, u: CheckRunUpdate): Promise<number>;
  update(target: CheckRunTarget, checkRunId: number, u: CheckRunUpdate): Promise<void>;
  /** A check run created earlier for this run (matched by `external_id`), if any. */
  find(target: CheckRunTarget, sha: string, name: string, externalId: string): Promise<number | undefined>;
  /** A commit status mirroring the check run (`YACI_COMMIT_STATUSES=true`). */
  setStatus(target: CheckRunTarget, sha: string, status: CommitStatus): Promise<void>;
}

export interface CommitStatus {
  context: string;
  state: "pending" | "success" | "failure" | "error";
  description: string;
  targetUrl?: string;
}

/** How much of a log's end is searched for annotations. */
const ANNOTATION_SCAN_BYTES = 1 << 20;

/** A commit status's state for a check-run state (statuses know no timed_out or cancelled). */
export function statusState(phase: string, conclusion?: Conclusion): CommitStatus["state"] {
  if (phase !== "completed") return "pending";
  switch (conclusion) {
    case "success":
    case "neutral":
    case "skipped":
      return "success";
    case "action_required":
      return "pending";
    case "failure":
    case "timed_out":
      return "failure";
    default:
      return "error";
  }
}

export interface ReporterDeps {
  store: RunStore;
  logs: LogStore;
  checks: CheckRunWriter;
  executorKind: string;
  /** The executor's `isolationWarning` ("not sandboxed: …"), shown in every summary. */
  isolationWarning?: string;
  log: Logger;
  /** The run page for `details_url`, when the app has a public URL. */
  detailsUrl?: (r: RunRecord) => string | undefined;
  /** Called once a run's final state has reached GitHub. */
  onFinalReported?: (r: RunRecord) => void | Promise<void>;
  /** Waits between retries of a failed write; the last one repeats (an outage is retried, never dropped). */
  retryDelaysMs?: number[];
  setTimer?: (fn: () => void, ms: number) => void;
  /** True when GitHub's rate limit for this run's installation is low: intermediate updates are skipped (never the final one). */
  budgetLow?: (r: RunRecord) => boolean;
  /**
   * How long until the installation's write budget has room for an intermediate (queued or in
   * progress) write, 0 = now. Meanwhile they are skipped and tried again then, unless the final
   * state (which carries everything) went out first.
   */
  intermediateDelayMs?: (r: RunRecord) => number;
  /** Every check-run write, by kind (metrics). */
  onWrite?: (kind: WriteKind, r: RunRecord) => void;
  /** A run's final state reached GitHub this long after the job ended (metrics). */
  onFinalLatency?: (ms: number, r: RunRecord) => void;
  /** The directory a run's job ran in, so annotation paths become relative to the repository. */
  workspaceFor?: (r: RunRecord) => string | undefined;
  /** Mirror every check run as a commit status `yaci/<job>` (YACI_COMMIT_STATUSES). */
  commitStatuses?: boolean;
  /** At most one in-progress → in-progress update per run in this period (default 10 s). */
  coalesceMs?: number;
  /**
   * The end of a running job's log so far (the executor's `liveLog`), or undefined when there is
   * none to show now (the job ended, or the executor has no read to spare). Without it, a running
   * job's check run shows no log until the end.
   */
  liveLog?: (r: RunRecord) => Promise<LogTail | undefined>;
  /** How often a running job's log is read for its check run (YACI_LIVE_LOG_INTERVAL, default 15 s). */
  liveIntervalMs?: number;
  /** A live-log update written, or skipped because the installation's budget or rate limit is low (metrics). */
  onLive?: (result: "written" | "skipped") => void;
  now?: () => number;
}

const DEFAULT_RETRY_DELAYS = [1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000];

/** GitHub's own `retry-after` (seconds), when it sent one. */
function retryAfter(err: unknown): number | undefined {
  const headers = (err as { response?: { headers?: Record<string, string> } }).response?.headers;
  const value = Number(headers?.["retry-after"]);
  return Number.isFinite(value) && value > 0 ? value * 1000 : undefined;
}

/** A rate limit: 429, or a 403 that says so (a 403 for a missing permission will not get better). */
function rateLimited(err: unknown): boolean {
  const e = err as { message?: string; response?: { headers?: Record<string, string> } };
  const status = httpStatusOf(err);
  if (status === 429) return true;
  if (status !== 403) return false;
  const h = e.response?.headers ?? {};
  return h["retry-after"] !== undefined || h["x-ratelimit-remaining"] === "0" || /rate limit/i.test(e.message ?? "");
}

/** Network errors, 5xx and rate limits pass; other 4xx will not get better by trying again. */
function retryable(err: unknown): boolean {
  const s = httpStatusOf(err);
  return s === undefined || s >= 500 || s === 408 || rateLimited(err);
}

/**
 * Brings each run's check run in line with its record: level-triggered (it computes the wanted
 * state and writes only when it differs from the last one written), serialized per run, retried
 * with backoff on failure. Safe to call as often as anything changes.
 */
export class Reporter {
  private readonly chains = new Map<string, Promise<void>>();
  private readonly failures = new Map<string, number>();
  private readonly lastWrite = new Map<string, number>();
  private readonly deferred = new Set<string>();
  /** The log each running job's check run shows (or will, once written): read by the live refresh. */
  private readonly live = new Map<string, LiveLog>();
  /** Runs whose next live refresh is armed. */
  private readonly liveArmed = new Set<string>();
  /** Live refreshes reading a log right now. */
  private readonly refreshing = new Set<Promise<void>>();

  constructor(private readonly deps: ReporterDeps) {}

  report(runId: string): Promise<void> {
    const prev = this.chains.get(runId) ?? Promise.resolve();
    const next = prev.then(() => this.sync(runId)).catch((err) => this.onError(runId, err));
    this.chains.set(runId, next);
    void next.finally(() => {
      if (this.chains.get(runId) === next) this.chains.delete(runId);
    });
    return next;
  }

  /** Resolves when every report in flight has settled (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.chains.size > 0 || this.refreshing.size > 0) await Promise.all([...this.chains.values(), ...this.refreshing]);
  }

  private async build(r: RunRecord): Promise<CheckRunUpdate> {
    const logText =
      r.phase === "completed" && !r.spec.notice
        ? logExcerpt(await this.deps.logs.tail(r.spec.id, EXCERPT_READ_BYTES))
        : undefined;
    return toCheckRunUpdate(r, this.deps.executorKind, {
      logText,
      detailsUrl: this.deps.detailsUrl?.(r),
      cancelButton: !r.spec.notice,
      isolationWarning: this.deps.isolationWarning,
      live: r.phase === "in_progress" ? this.live.get(r.spec.id) : undefined,
    });
  }

  private async annotations(r: RunRecord): Promise<Annotation[]> {
    const tail = await this.deps.logs.tail(r.spec.id, ANNOTATION_SCAN_BYTES);
    return parseAnnotations(tail.text, { workspace: this.deps.workspaceFor?.(r) });
  }

  private async sync(runId: string): Promise<void> {
    const { store, checks } = this.deps;
    for (;;) {
      const r = store.get(runId);
      if (!r || r.spec.event === "api") return;
      if (r.phase === "in_progress") this.armLive(runId);
      else this.live.delete(runId);
      // A final result's annotations are looked for while its check run is built (both read the log's end).
      const scan = r.phase === "completed" && r.reported?.phase !== "completed" && !r.spec.notice ? this.annotations(r) : undefined;
      scan?.catch(() => undefined); // awaited below, unless nothing is written
      const u = await this.build(r);
      const state = reportedStateOf(u);
      if (sameReportedState(r.reported, state)) return;
      const target: CheckRunTarget = { installationId: r.spec.installationId, owner: r.spec.key.owner, repo: r.spec.key.repo };
      // A queued or in-progress state may wait or be skipped: the final one carries everything.
      const isLive = state.phase === "in_progress" && u.text !== undefined;
      if (state.phase !== "completed" && this.holdBack(r, state.phase, isLive)) return;
      let checkRunId = r.checkRunId;
      if (checkRunId === undefined && r.checkRunCreating) {
        checkRunId = await checks.find(target, r.spec.key.sha, u.name, r.spec.id);
      }
      const final = state.phase === "completed" && r.reported?.phase !== "completed";
      const batches = final && !r.spec.notice ? batchAnnotations(await (scan ?? this.annotations(r))) : [];
      if (batches.length > 0) u.annotations = batches[0];
      let sent: CheckRunUpdate;
      try {
        ({ checkRunId, sent } = await this.write(target, runId, checkRunId, u));
      } catch (err) {
        const skipped = skippedWrite(err);
        if (!skipped) throw err;
        if (isLive) this.deps.onLive?.("skipped");
        this.skipped(r, skipped.retryInMs);
        return;
      }
      const kind: WriteKind = state.phase === "completed" ? "final" : state.phase;
      this.deps.onWrite?.(kind, r);
      if (isLive) this.deps.onLive?.("written");
      if (final && r.finishedAt) this.deps.onFinalLatency?.(this.now() - Date.parse(r.finishedAt), r);
      // GitHub takes 50 annotations per request and appends them: send the rest after.
      if (sent.annotations) for (const batch of batches.slice(1)) await checks.update(target, checkRunId, { ...sent, annotations: batch });
      if (this.deps.commitStatuses) {
        await checks
          .setStatus(target, u.headSha, {
            context: `yaci/${u.name}`,
            state: statusState(u.status, u.conclusion),
            description: u.title,
            targetUrl: u.detailsUrl,
          })
          .catch((err: unknown) => {
            if (!skippedWrite(err)) throw err; // a pending status skipped for the budget: the final one follows
          });
      }
      const latest = { ...store.get(runId)!, checkRunId, reported: state };
      delete latest.checkRunCreating;
      store.put(latest);
      this.lastWrite.set(runId, this.now());
      this.failures.delete(runId);
      this.deps.log.info({ runId, checkRunId, status: u.status, conclusion: u.conclusion }, `check run ${u.status}`);
      if (state.phase === "completed") await this.deps.onFinalReported?.(latest);
    }
  }

  /**
   * Creates or updates the check run. When GitHub refuses the update as invalid (422: an output
   * over its limits, say), a smaller one goes instead, down to title and summary.
   */
  private async write(
    target: CheckRunTarget,
    runId: string,
    checkRunId: number | undefined,
    u: CheckRunUpdate,
  ): Promise<{ checkRunId: number; sent: CheckRunUpdate }> {
    const { store, checks } = this.deps;
    let fallbacks: CheckRunUpdate[] | undefined;
    for (let attempt = u; ; ) {
      try {
        if (checkRunId !== undefined) {
          await checks.update(target, checkRunId, attempt);
          return { checkRunId, sent: attempt };
        }
        store.put({ ...store.get(runId)!, checkRunCreating: true });
        try {
          return { checkRunId: await checks.create(target, attempt), sent: attempt };
        } catch (err) {
          // Nothing was created: no need to look for it next time.
          if (skippedWrite(err) || httpStatusOf(err) === 422) {
            const latest = { ...store.get(runId)! };
            delete latest.checkRunCreating;
            store.put(latest);
          }
          throw err;
        }
      } catch (err) {
        if (httpStatusOf(err) !== 422) throw err;
        fallbacks ??= smallerUpdates(u, (err as Error).message?.split("\n")[0] ?? "422");
        const next = fallbacks.shift();
        if (!next) throw err;
        this.deps.log.warn({ runId, err: (err as Error).message }, "GitHub refused the check run as invalid (422); sending a smaller one");
        attempt = next;
      }
    }
  }

  /** An intermediate write the budget refused: try again once there is room (unless the final state went first). */
  private skipped(r: RunRecord, retryInMs: number): void {
    const latest = this.deps.store.get(r.spec.id);
    if (latest?.checkRunCreating) {
      delete latest.checkRunCreating;
      this.deps.store.put(latest);
    }
    this.deps.onWrite?.("skipped", r);
    this.deps.log.info({ runId: r.spec.id, retryInMs }, "write budget: intermediate check-run update skipped");
    this.later(r.spec.id, retryInMs);
  }

  private later(runId: string, ms: number): void {
    if (this.deferred.has(runId)) return;
    this.deferred.add(runId);
    this.timer(() => {
      this.deferred.delete(runId);
      void this.report(runId);
    }, ms);
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private timer(fn: () => void, ms: number): void {
    (this.deps.setTimer ?? ((f, t) => setTimeout(f, t).unref()))(fn, ms);
  }

  /** Writes less: intermediate updates wait (in progress → in progress, coalesced) or are skipped (budget). */
  private holdBack(r: RunRecord, phase: string, isLive: boolean): boolean {
    if (this.deps.budgetLow?.(r)) {
      this.deps.onWrite?.("skipped", r);
      if (isLive) this.deps.onLive?.("skipped");
      this.deps.log.warn({ runId: r.spec.id }, "GitHub rate limit low: intermediate check-run update skipped");
      return true;
    }
    const budgetWait = this.deps.intermediateDelayMs?.(r) ?? 0;
    if (budgetWait > 0) {
      if (isLive) this.deps.onLive?.("skipped");
      this.skipped(r, budgetWait);
      return true;
    }
    if (phase !== "in_progress" || r.reported?.phase !== "in_progress") return false;
    const wait = (this.lastWrite.get(r.spec.id) ?? 0) + (this.deps.coalesceMs ?? 10_000) - this.now();
    if (wait <= 0) return false;
    this.later(r.spec.id, wait);
    return true;
  }

  private liveInterval(): number {
    return this.deps.liveIntervalMs ?? 15_000;
  }

  /** Arms the run's next live-log refresh (once per run; never for a notice or without `liveLog`). */
  private armLive(runId: string): void {
    if (!this.deps.liveLog || this.liveInterval() <= 0 || this.liveArmed.has(runId)) return;
    this.liveArmed.add(runId);
    this.timer(() => {
      const p = this.refreshLive(runId).finally(() => this.refreshing.delete(p));
      this.refreshing.add(p);
    }, this.liveInterval());
  }

  /**
   * One live-log refresh: reads the end of the running job's log and, when it grew, reports the
   * run (an in-progress write, coalesced and budgeted like any other). Nothing is read while the
   * installation's budget would skip the write anyway; nothing is kept once the job has ended.
   */
  private async refreshLive(runId: string): Promise<void> {
    this.liveArmed.delete(runId);
    const running = (): RunRecord | undefined => {
      const r = this.deps.store.get(runId);
      return r && r.phase === "in_progress" && !r.spec.notice && r.spec.event !== "api" ? r : undefined;
    };
    const r = running();
    if (!r) {
      this.live.delete(runId);
      return;
    }
    try {
      if (this.deps.budgetLow?.(r) || (this.deps.intermediateDelayMs?.(r) ?? 0) > 0) {
        this.deps.onLive?.("skipped");
        return;
      }
      const tail = await this.deps.liveLog!(r);
      const now = running();
      if (!tail || !now) return;
      const prev = this.live.get(runId);
      if (!prev && tail.totalBytes === 0) return; // nothing printed yet
      const text = logExcerpt(tail);
      if (prev?.text === text) return; // the log did not grow: nothing to write
      const startedAt = Date.parse(now.startedAt ?? now.createdAt);
      this.live.set(runId, { text, runningMs: Math.max(0, this.now() - startedAt), intervalMs: this.liveInterval() });
      void this.report(runId);
    } catch (err) {
      this.deps.log.warn({ runId, err: (err as Error).message }, "live log: could not read the running job's log");
    } finally {
      if (running()) this.armLive(runId);
      else this.live.delete(runId);
    }
  }

  private onError(runId: string, err: unknown): void {
    const n = (this.failures.get(runId) ?? 0) + 1;
    this.failures.set(runId, n);
    const delays = this.deps.retryDelaysMs ?? DEFAULT_RETRY_DELAYS;
    if (!retryable(err) || delays.length === 0) {
      this.deps.log.error({ runId, err, status: httpStatusOf(err) }, "could not report the check run; giving up");
      this.failures.delete(runId);
      return;
    }
    // An outage is waited out however long it lasts: after the list, every last delay.
    const delay = delays[Math.min(n, delays.length) - 1]!;
    this.deps.log.warn({ runId, status: httpStatusOf(err), err: (err as Error).message, retryInMs: delay }, "check run write failed; will retry");
    this.timer(() => void this.report(runId), retryAfter(err) ?? delay);
  }
}
