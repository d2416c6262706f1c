import { reportedStateOf, sameReportedState, toCheckRunUpdate, type CheckRunUpdate } from "../core/check-update.js";
import type { RunRecord } from "../core/run.js";
import type { LogStore } from "../logs/log-store.js";
import { EXCERPT_READ_BYTES, logExcerpt } from "../logs/excerpt.js";
import type { RunStore } from "./run-store.js";
import { batchAnnotations, parseAnnotations, type Annotation } from "../logs/annotations.js";
import type { Conclusion } from "../core/status.js";
import { httpStatusOf } from "../http-status.js";
import type { Logger } from "../logger.js";

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
  /** True when GitHub's budget for this run's installation is low: intermediate updates are skipped (never the final one). */
  budgetLow?: (r: RunRecord) => boolean;
  /** The directory a run's job ran in, so annotation paths become relative to the repository. */
  workspaceFor?: (r: RunRecord) => string | undefined;
  /** Mirror every check run as a commit status `yaci/<job>` (YACI_COMMIT_STATUSES). */
  commitStatuses?: boolean;
  /** At most one in-progress → in-progress update per run in this period (default 10 s). */
  coalesceMs?: number;
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
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
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
      const u = await this.build(r);
      const state = reportedStateOf(u);
      if (sameReportedState(r.reported, state)) return;
      const target: CheckRunTarget = { installationId: r.spec.installationId, owner: r.spec.key.owner, repo: r.spec.key.repo };
      let checkRunId = r.checkRunId;
      if (checkRunId !== undefined && state.phase !== "completed" && this.holdBack(r, state.phase)) return;
      if (checkRunId === undefined && r.checkRunCreating) {
        checkRunId = await checks.find(target, r.spec.key.sha, u.name, r.spec.id);
      }
      const final = state.phase === "completed" && r.reported?.phase !== "completed";
      const batches = final && !r.spec.notice ? batchAnnotations(await this.annotations(r)) : [];
      if (batches.length > 0) u.annotations = batches[0];
      if (checkRunId === undefined) {
        store.put({ ...store.get(runId)!, checkRunCreating: true });
        checkRunId = await checks.create(target, u);
      } else {
        await checks.update(target, checkRunId, u);
      }
      // GitHub takes 50 annotations per request and appends them: send the rest after.
      for (const batch of batches.slice(1)) await checks.update(target, checkRunId, { ...u, annotations: batch });
      if (this.deps.commitStatuses) {
        await checks.setStatus(target, u.headSha, {
          context: `yaci/${u.name}`,
          state: statusState(u.status, u.conclusion),
          description: u.title,
          targetUrl: u.detailsUrl,
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

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private timer(fn: () => void, ms: number): void {
    (this.deps.setTimer ?? ((f, t) => setTimeout(f, t).unref()))(fn, ms);
  }

  /** Writes less: intermediate updates wait (in progress → in progress, coalesced) or are dropped (budget low). */
  private holdBack(r: RunRecord, phase: string): boolean {
    if (this.deps.budgetLow?.(r)) {
      this.deps.log.warn({ runId: r.spec.id }, "GitHub rate limit low: intermediate check-run update skipped");
      return true;
    }
    if (phase !== "in_progress" || r.reported?.phase !== "in_progress") return false;
    const wait = (this.lastWrite.get(r.spec.id) ?? 0) + (this.deps.coalesceMs ?? 10_000) - this.now();
    if (wait <= 0) return false;
    if (!this.deferred.has(r.spec.id)) {
      this.deferred.add(r.spec.id);
      this.timer(() => {
        this.deferred.delete(r.spec.id);
        void this.report(r.spec.id);
      }, wait);
    }
    return true;
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
