import { chmodSync, mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import type { Probot } from "probot";
import type { Executor } from "./executors/executor.js";
import { LocalExecutor } from "./executors/local/local-executor.js";
import { localContainment } from "./executors/local/sandbox.js";
import { OctokitCheckRuns } from "./github/check-runs.js";
import { checkoutTokenSource, RateLimitTracker, WriteBudget, yaciOctokit, type ApiBudget, type YaciOctokit } from "./github/octokit.js";
import { httpEnvFromProcess, type HttpEnv } from "./http/env.js";
import { detailsUrl } from "./http/run-access.js";
import { LogStore } from "./logs/log-store.js";
import { createMetrics, type Metrics } from "./observability/metrics.js";
import { Reporter } from "./runs/reporter.js";
import { RunStore } from "./runs/run-store.js";
import { Scheduler } from "./runs/scheduler.js";
import { DeliveryLog } from "./runs/delivery-log.js";

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
  /** YACI_FORK_CONFIG: where a fork's jobs come from (default: the base branch). */
  forkConfig: "base" | "head";
}

export const EXECUTORS = ["local", "kubernetes"] as const;

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

/** Builds the app's API budget and the Octokit class that feeds it (give `Octokit` to Probot, the rest to `loadDeps`). */
export function createGitHubClient(): GitHubClient {
  const budget: ApiBudget = { writeBudget: new WriteBudget(), rateLimits: new RateLimitTracker() };
  return { ...budget, Octokit: yaciOctokit(budget) };
}

/** Parts built before the app loads (`github`, by main.ts) or by a test instead of from the environment. */
export interface DepsOverrides {
  /** The client whose `Octokit` Probot was given; without it, a budget no Octokit feeds (never low). */
  github?: GitHubClient;
  executor?: Executor;
  reporterRetryDelaysMs?: number[];
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
  const store = new RunStore(dataDir);
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
    executor = new LocalExecutor({
      dataDir,
      logs,
      concurrency: positiveInt(env, "YACI_LOCAL_CONCURRENCY", availableParallelism()),
      checkoutToken,
      githubApiUrl: apiUrl,
      containment,
      log: app.log,
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
    onFinalReported: (r) => executor.markReported?.(r.spec.id),
    retryDelaysMs: overrides.reporterRetryDelaysMs,
    // Intermediate updates give way when the installation's hourly rate limit runs low, or when its
    // content-creation budget (80/min) is used up right now: final results go first.
    budgetLow: (r) =>
      (rateLimits.get(r.spec.installationId) ?? Infinity) < RATE_LIMIT_RESERVE || writeBudget.delayFor(String(r.spec.installationId)) > 0,
    workspaceFor: (r) => (executor.kind === "kubernetes" ? "/workspace" : join(dataDir, "local", "workspaces", r.spec.id)),
    commitStatuses: env.YACI_COMMIT_STATUSES === "true",
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
    },
  });
  const forkConfig = env.YACI_FORK_CONFIG || "base";
  if (forkConfig !== "base" && forkConfig !== "head") throw new Error(`YACI_FORK_CONFIG must be base or head; got "${forkConfig}"`);
  const deliveries = new DeliveryLog(dataDir);
  return { env, http, dataDir, githubApiUrl: apiUrl, store, logs, metrics, executor, reporter, scheduler, deliveries, forkConfig };
}
