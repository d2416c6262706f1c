import { chmodSync, mkdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { parseEnv } from "node:util";
import type { Probot } from "probot";
import type { Executor } from "./executors/executor.js";
import { LocalExecutor } from "./executors/local/local-executor.js";
import { queueLimitsFromEnv } from "./core/queue-policy.js";
import { byteSize } from "./executors/kubernetes/quantity.js";
import { localContainment } from "./executors/local/sandbox.js";
import { LocalSecretStore, localSecretsDir } from "./secrets/local-store.js";
import { OctokitCheckRuns } from "./github/check-runs.js";
import { checkoutTokenSource, parseWriteWindows, RateLimitTracker, WriteBudget, yaciOctokit, type ApiBudget, type YaciOctokit } from "./github/octokit.js";
import { httpEnvFromProcess, type HttpEnv } from "./http/env.js";
import { detailsUrl } from "./http/access.js";
import { LogStore } from "./logs/log-store.js";
import { createMetrics, type Metrics } from "./observability/metrics.js";
import { Reporter } from "./runs/reporter.js";
import { RunStore } from "./runs/run-store.js";
import { Scheduler } from "./runs/scheduler.js";
import { DeliveryLog } from "./runs/delivery-log.js";
import { Inbox } from "./runs/inbox.js";
import { InboxWorker } from "./runs/inbox-worker.js";
import type { IntakeSettings } from "./github/intake.js";
import { systemClock, type Clock } from "./clock.js";
import { parseEnvDuration } from "./env-duration.js";
import { EXCERPT_READ_BYTES } from "./logs/excerpt.js";
import type { RunRecord } from "./core/run.js";

export type Env = Record<string, string | undefined>;

export interface Deps {
  env: Env;
  http: HttpEnv;
  dataDir: string;
  githubApiUrl: string;
  store: RunStore;
  logs: LogStore;
  metrics: Metrics;
  executor: Executor;
  reporter: Reporter;
  scheduler: Scheduler;
  deliveries: DeliveryLog;
  /** Verified webhook deliveries on disk, until handled (YACI_DATA_DIR/inbox). */
  inbox: Inbox;
  /** Drains the inbox with the app's webhook handlers (started by the app). */
  inboxWorker: InboxWorker;
  /** YACI_FORK_CONFIG: where a fork's jobs come from (default: the base branch). */
  forkConfig: "base" | "head";
}

export const EXECUTORS = ["local", "kubernetes"] as const;

/**
 * Loads `.env` from the working directory into `env`, exactly as Probot's `run()` does (its
 * values win over the environment's). `run()` does it too, but only once it starts; main.ts needs
 * the settings before that (the log, the webhook endpoint).
 */
export function applyDotEnv(env: Env, file = join(process.cwd(), ".env")): void {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  Object.assign(env, parseEnv(text));
}

/** GitHub's REST base URL, the way Probot derives it (GHE_HOST + GHE_PROTOCOL). */
export function githubApiUrl(env: Env): string {
  return env.GHE_HOST ? `${env.GHE_PROTOCOL || "https"}://${env.GHE_HOST}/api/v3` : "https://api.github.com";
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number ≥ 1, got "${raw}"`);
  return n;
}

/**
 * What Probot needs before the app loads: the Octokit class it builds every client from, and the
 * API budget those clients feed (one per app; the reporter and the metrics read it).
 */
export interface GitHubClient extends ApiBudget {
  Octokit: YaciOctokit;
}

/**
 * Builds the app's API budget and the Octokit class that feeds it (give `Octokit` to Probot, the
 * rest to `loadDeps`). YACI_WRITE_BUDGET changes GitHub's write limits (GitHub Enterprise Server).
 */
export function createGitHubClient(env: Env = process.env): GitHubClient {
  const budget: ApiBudget = { writeBudget: new WriteBudget(parseWriteWindows(env.YACI_WRITE_BUDGET)), rateLimits: new RateLimitTracker() };
  return { ...budget, Octokit: yaciOctokit(budget) };
}

/** Parts built before the app loads (`github`, by main.ts) or by a test instead of from the environment. */
export interface DepsOverrides {
  /** The client whose `Octokit` Probot was given; without it, a budget no Octokit feeds (never low). */
  github?: GitHubClient;
  executor?: Executor;
  reporterRetryDelaysMs?: number[];
  /** The webhook endpoint (main.ts builds it before Probot starts); without it, webhooks reach only `app.receive`. */
  intake?: Pick<IntakeSettings, "path" | "secret">;
  /** Waits before the inbox tries a failed delivery again, and the clock of its retries. */
  inboxRetryDelaysMs?: number[];
  inboxClock?: Clock;
}

/**
 * YACI_LIVE_LOG_INTERVAL (default 15s; `off`: no log until the job ends): how often a running
 * job's check run may show its log so far. In-progress updates are coalesced to the same period.
 */
function liveLogSettings(env: Env, executor: Executor) {
  const raw = env.YACI_LIVE_LOG_INTERVAL?.trim();
  if (raw === "off" || !executor.liveLog) return { liveIntervalMs: 0 };
  const liveIntervalMs = raw ? parseEnvDuration("YACI_LIVE_LOG_INTERVAL", raw) : 15_000;
  if (liveIntervalMs < 1000) throw new Error(`YACI_LIVE_LOG_INTERVAL must be at least 1s (or off), got "${raw}"`);
  return {
    liveIntervalMs,
    coalesceMs: Math.min(10_000, liveIntervalMs),
    liveLog: (r: RunRecord) => executor.liveLog!(r.spec.id, EXCERPT_READ_BYTES),
  };
}

/** Below this many remaining requests an installation gets only final check-run updates. */
const RATE_LIMIT_RESERVE = 100;

/** The composition root: every dependency, built from the environment. */
export async function loadDeps(env: Env, app: Probot, overrides: DepsOverrides = {}): Promise<Deps> {
  const dataDir = resolve(env.YACI_DATA_DIR || ".yaci");
  // Logs and workspaces are nobody else's business on this machine.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    chmodSync(dataDir, 0o700);
  } catch (err) {
    app.log.warn({ dataDir, err: (err as Error).message }, "could not make YACI_DATA_DIR private (mode 0700)");
  }
  const http = httpEnvFromProcess(env);
  const apiUrl = githubApiUrl(env);
  const store = new RunStore(dataDir, app.log);
  const logs = new LogStore(dataDir);
  const metrics = createMetrics();
  const { rateLimits, writeBudget } = overrides.github ?? createGitHubClient();
  rateLimits.onChange((installationId, remaining) => metrics.setRateLimitRemaining(installationId, remaining));
  const checkoutToken = checkoutTokenSource(() => app.auth());
  const kind = env.YACI_EXECUTOR || "local";
  let executor: Executor;
  if (overrides.executor) {
    executor = overrides.executor;
  } else if (kind === "local") {
    // YACI_LOCAL_SANDBOX / YACI_LOCAL_NETWORK: `required` throws here when bwrap cannot run.
    const containment = await localContainment(env, dataDir);
    if (!containment.sandboxed) app.log.warn({ YACI_LOCAL_SANDBOX: env.YACI_LOCAL_SANDBOX || "auto" }, `local jobs are ${containment.warning}`);
    const limits = queueLimitsFromEnv(env, availableParallelism());
    executor = new LocalExecutor({
      dataDir,
      logs,
      concurrency: limits.maxRunning!,
      ...(limits.maxRunningPerInstallation ? { maxRunningPerInstallation: limits.maxRunningPerInstallation } : {}),
      checkoutToken,
      githubApiUrl: apiUrl,
      containment,
      log: app.log,
      // YACI_SECRETS_DIR (default <YACI_DATA_DIR>/secrets): the jobs' named secrets, read at start.
      secrets: new LocalSecretStore(localSecretsDir({ ...env, YACI_DATA_DIR: dataDir })),
      ...(env.YACI_LOG_MAX_BYTES?.trim() ? { logMaxBytes: byteSize("YACI_LOG_MAX_BYTES", env.YACI_LOG_MAX_BYTES, 1024, "1Ki") } : {}),
      ...(env.YACI_CHECKOUT_MAX_BYTES?.trim() ? { checkoutMaxBytes: byteSize("YACI_CHECKOUT_MAX_BYTES", env.YACI_CHECKOUT_MAX_BYTES, 1024 ** 2, "1Mi") } : {}),
    });
  } else if (kind === "kubernetes") {
    const { createKubernetesExecutor } = await import("./executors/kubernetes/kubernetes-executor.js");
    executor = await createKubernetesExecutor({
      env,
      logStore: logs,
      checkoutToken,
      githubApiUrl: apiUrl,
      log: app.log,
    });
  } else {
    throw new Error(`YACI_EXECUTOR must be one of ${EXECUTORS.join(", ")}; got "${kind}"`);
  }
  const reporter = new Reporter({
    store,
    logs,
    checks: new OctokitCheckRuns((id) => app.auth(id)),
    executorKind: executor.kind,
    isolationWarning: executor.isolationWarning,
    log: app.log,
    // The link's expiry counts from the run's creation, so the URL (and the reported state) is stable.
    detailsUrl: (r) => detailsUrl(http, r.spec.id, new Date(r.createdAt)),
    // A skipped run never reached the executor: there is nothing to mark.
    onFinalReported: (r) => (r.outcome === "skipped" ? undefined : executor.markReported?.(r.spec.id)),
    retryDelaysMs: overrides.reporterRetryDelaysMs,
    // Intermediate updates give way when the installation's hourly rate limit runs low, or when their
    // share of its content-creation budget is used up: final results go first.
    budgetLow: (r) => (rateLimits.get(r.spec.installationId) ?? Infinity) < RATE_LIMIT_RESERVE,
    intermediateDelayMs: (r) => writeBudget.delayFor(String(r.spec.installationId), "intermediate"),
    onWrite: (kind) => metrics.checkRunWrite(kind),
    onFinalLatency: (ms) => metrics.finalWriteLatency(ms / 1000),
    workspaceFor: (r) => (executor.kind === "kubernetes" ? "/workspace" : join(dataDir, "local", "workspaces", r.spec.id)),
    commitStatuses: env.YACI_COMMIT_STATUSES === "true",
    // A running job's log so far, in its check run: read at most every YACI_LIVE_LOG_INTERVAL, written when it grew.
    ...liveLogSettings(env, executor),
    onLive: (result) => metrics.liveLogUpdate(result),
  });
  const scheduler = new Scheduler({
    store,
    executor,
    reporter,
    log: app.log,
    events: {
      runStarted: () => metrics.runStarted(executor.kind),
      runFinished: (r) => {
        const seconds = r.startedAt && r.finishedAt ? (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000 : 0;
        metrics.runFinished(r.conclusion ?? "failure", seconds);
      },
      startFailed: () => metrics.executorError(executor.kind),
      queueChanged: (depth) => metrics.setQueueDepth(depth),
      queueDepthByInstallation: (depths) => {
        for (const [id, n] of depths) metrics.setInstallationQueueDepth(id, n);
      },
      queueWait: (id, seconds) => metrics.queueWait(id, seconds),
    },
    // A queued check run's new position is written only while the installation's budget has room
    // for intermediate writes and is not near its end (final results always come first).
    positionHeadroom: (r) =>
      writeBudget.delayFor(String(r.spec.installationId), "intermediate") === 0 &&
      (rateLimits.get(r.spec.installationId) ?? Infinity) >= RATE_LIMIT_RESERVE * 2,
  });
  const forkConfig = env.YACI_FORK_CONFIG || "base";
  if (forkConfig !== "base" && forkConfig !== "head") throw new Error(`YACI_FORK_CONFIG must be base or head; got "${forkConfig}"`);
  const deliveries = new DeliveryLog(dataDir);
  const inboxClock = overrides.inboxClock ?? systemClock;
  const inbox = new Inbox(dataDir, { log: app.log, clock: inboxClock });
  const inboxWorker = new InboxWorker({
    inbox,
    // Probot's own path for a delivery: its handlers (src/github/handlers.ts), each delivery once.
    handle: (e, payload) => app.receive({ id: e.id, name: e.name, payload } as Parameters<Probot["receive"]>[0]),
    log: app.log,
    concurrency: positiveInt(env, "YACI_INBOX_CONCURRENCY", 8),
    retryDelaysMs: overrides.inboxRetryDelaysMs,
    clock: inboxClock,
    onAttempt: (outcome, seconds) => metrics.inboxAttempt(outcome, seconds),
  });
  metrics.watchInbox(() => {
    const oldest = inbox.oldestReceivedAt();
    return { depth: inbox.depth, oldestAgeSeconds: oldest === undefined ? 0 : Math.max(0, (inboxClock.now() - oldest) / 1000) };
  });
  return { env, http, dataDir, githubApiUrl: apiUrl, store, logs, metrics, executor, reporter, scheduler, deliveries, inbox, inboxWorker, forkConfig };
}
