import { reportedStateOf, sameReportedState, toCheckRunUpdate, type CheckRunUpdate } from "../core/check-update.js";
import type { RunRecord } from "../core/run.js";
import type { LogStore } from "../logs/log-store.js";
import { EXCERPT_READ_BYTES, logExcerpt } from "../logs/excerpt.js";
import type { RunStore } from "./run-store.js";
import type { CheckRunTarget, CheckRunWriter } from "./check-run-writer.js";

export interface ReporterLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ReporterDeps {
  store: RunStore;
  logs: LogStore;
  checks: CheckRunWriter;
  executorKind: string;
  log: ReporterLog;
  /** The run page for `details_url`, when the app has a public URL. */
  detailsUrl?: (r: RunRecord) => string | undefined;
  /** Called once a run's final state has reached GitHub. */
  onFinalReported?: (r: RunRecord) => void | Promise<void>;
  /** Waits between retries of a failed write (an outage is retried, never dropped). */
  retryDelaysMs?: number[];
  setTimer?: (fn: () => void, ms: number) => void;
}

const DEFAULT_RETRY_DELAYS = [1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000];

function status(err: unknown): number | undefined {
  return (err as { status?: number }).status;
}

/** 4xx other than rate limits will not get better by trying again. */
function retryable(err: unknown): boolean {
  const s = status(err);
  return s === undefined || s >= 500 || s === 403 || s === 429 || s === 408;
}

/**
 * Brings each run's check run in line with its record: level-triggered (it computes the wanted
 * state and writes only when it differs from the last one written), serialized per run, retried
 * with backoff on failure. Safe to call as often as anything changes.
 */
export class Reporter {
  private readonly chains = new Map<string, Promise<void>>();
  private readonly failures = new Map<string, number>();

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
      r.phase === "completed" && !r.spec.configError
        ? logExcerpt(await this.deps.logs.tail(r.spec.id, EXCERPT_READ_BYTES))
        : undefined;
    return toCheckRunUpdate(r, this.deps.executorKind, {
      logText,
      detailsUrl: this.deps.detailsUrl?.(r),
      cancelButton: !r.spec.configError,
    });
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
      if (checkRunId === undefined && r.checkRunCreating) {
        checkRunId = await checks.find(target, r.spec.key.sha, u.name, r.spec.id);
      }
      if (checkRunId === undefined) {
        store.put({ ...store.get(runId)!, checkRunCreating: true });
        checkRunId = await checks.create(target, u);
      } else {
        await checks.update(target, checkRunId, u);
      }
      const latest = { ...store.get(runId)!, checkRunId, reported: state };
      delete latest.checkRunCreating;
      store.put(latest);
      this.failures.delete(runId);
      this.deps.log.info({ runId, checkRunId, status: u.status, conclusion: u.conclusion }, `check run ${u.status}`);
      if (state.phase === "completed") await this.deps.onFinalReported?.(latest);
    }
  }

  private onError(runId: string, err: unknown): void {
    const n = (this.failures.get(runId) ?? 0) + 1;
    this.failures.set(runId, n);
    const delays = this.deps.retryDelaysMs ?? DEFAULT_RETRY_DELAYS;
    if (!retryable(err) || n > delays.length) {
      this.deps.log.error({ runId, err, status: status(err) }, "could not report the check run; giving up");
      this.failures.delete(runId);
      return;
    }
    const delay = delays[n - 1]!;
    this.deps.log.warn({ runId, status: status(err), err: (err as Error).message, retryInMs: delay }, "check run write failed; will retry");
    (this.deps.setTimer ?? ((fn, ms) => setTimeout(fn, ms).unref()))(() => void this.report(runId), delay);
  }
}
