import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Conclusion } from "../core/status.js";

/** How a webhook delivery ended, as the app saw it. Free-form but keep the set small. */
export type WebhookOutcome = "accepted" | "ignored" | "duplicate" | "rejected" | "error" | (string & {});

/**
 * YACI's Prometheus metrics. Every instance owns its own registry (never prom-client's global
 * one), so tests and several app instances in one process do not collide.
 */
export interface Metrics {
  /** One webhook delivery handled: `event` like "push" or "pull_request.opened". */
  webhook(event: string, outcome: WebhookOutcome): void;
  /** A run was handed to an executor ("local", "kubernetes"). */
  runStarted(executor: string): void;
  /** A run completed with this conclusion after `seconds` (from start, or from creation if it never started). */
  runFinished(conclusion: Conclusion, seconds: number): void;
  /** Runs accepted but not yet running. */
  setQueueDepth(n: number): void;
  /** Runs waiting for a runner, of one installation (the fair queue). */
  setInstallationQueueDepth(installationId: string, n: number): void;
  /** A run waited this long, from its acceptance to getting a runner (or ending while it waited). */
  queueWait(installationId: string, seconds: number): void;
  /** GitHub's `x-ratelimit-remaining` as last seen for an installation. */
  setRateLimitRemaining(installationId: number | string, remaining: number): void;
  /** An executor operation failed ("start", "cancel", "watch", "log", ...). */
  executorError(kind: string): void;
  /** One check-run write, by kind: queued, in_progress, final, or skipped (the write budget held it back). */
  checkRunWrite(kind: string): void;
  /** Seconds from a job's end to its final check-run write. */
  finalWriteLatency(seconds: number): void;
  /** A running job's log so far written to its check run, or skipped for the installation's budget or rate limit. */
  liveLogUpdate(result: "written" | "skipped"): void;
  /** One HTTP request answered by YACI's own routes (not webhooks). */
  httpRequest(route: string, status: number): void;
  /** Log streams (run page live streams, full-log downloads) open right now. */
  setOpenStreams(n: number): void;
  /** One attempt of the inbox worker at a delivery: "handled", "retry" (failed for now) or "dropped". */
  inboxAttempt(outcome: string, seconds: number): void;
  /** Where the inbox gauges (depth, oldest entry's age) read their values at each scrape. */
  watchInbox(read: () => { depth: number; oldestAgeSeconds: number }): void;
  readonly registry: Registry;
  /** The `Content-Type` of `text()`. */
  readonly contentType: string;
  /** The Prometheus text exposition of every metric. */
  text(): Promise<string>;
}

export interface MetricsOptions {
  /** Collect prom-client's default process metrics (CPU, memory, event loop, GC). Default true. */
  defaultMetrics?: boolean;
  /** Prefix of every metric name. Default "yaci_". */
  prefix?: string;
}

/** Run duration buckets in seconds: 1 s up to the 6 h job limit. */
export const RUN_DURATION_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600];

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const prefix = options.prefix ?? "yaci_";
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix });

  const webhookDeliveries = new Counter({
    name: `${prefix}webhook_deliveries_total`,
    help: "GitHub webhook deliveries handled, by event and outcome.",
    labelNames: ["event", "outcome"] as const,
    registers: [registry],
  });
  const runsStarted = new Counter({
    name: `${prefix}runs_started_total`,
    help: "Runs handed to an executor, by executor.",
    labelNames: ["executor"] as const,
    registers: [registry],
  });
  const runsFinished = new Counter({
    name: `${prefix}runs_finished_total`,
    help: "Runs completed, by conclusion.",
    labelNames: ["conclusion"] as const,
    registers: [registry],
  });
  const runDuration = new Histogram({
    name: `${prefix}run_duration_seconds`,
    help: "Duration of completed runs in seconds, by conclusion.",
    labelNames: ["conclusion"] as const,
    buckets: RUN_DURATION_BUCKETS,
    registers: [registry],
  });
  const queueDepth = new Gauge({
    name: `${prefix}queue_depth`,
    help: "Runs accepted and waiting to start.",
    registers: [registry],
  });
  const installationQueueDepth = new Gauge({
    name: `${prefix}installation_queue_depth`,
    help: "Runs waiting for a runner, by installation.",
    labelNames: ["installation_id"] as const,
    registers: [registry],
  });
  const queueWait = new Histogram({
    name: `${prefix}queue_wait_seconds`,
    help: "Seconds a run waited for a runner (from its acceptance to its start), by installation.",
    labelNames: ["installation_id"] as const,
    buckets: [0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [registry],
  });
  const rateLimitRemaining = new Gauge({
    name: `${prefix}github_rate_limit_remaining`,
    help: "GitHub API requests left in the current rate-limit window, by installation.",
    labelNames: ["installation_id"] as const,
    registers: [registry],
  });
  const executorErrors = new Counter({
    name: `${prefix}executor_errors_total`,
    help: "Executor operations that failed, by kind.",
    labelNames: ["kind"] as const,
    registers: [registry],
  });
  const httpRequests = new Counter({
    name: `${prefix}http_requests_total`,
    help: "Requests answered by YACI's HTTP routes (API, run page, health, metrics), by route and status code.",
    labelNames: ["route", "code"] as const,
    registers: [registry],
  });
  const openStreams = new Gauge({
    name: `${prefix}http_open_streams`,
    help: "Log streams open right now (run page live streams and full-log downloads).",
    registers: [registry],
  });
  let inboxState: () => { depth: number; oldestAgeSeconds: number } = () => ({ depth: 0, oldestAgeSeconds: 0 });
  new Gauge({
    name: `${prefix}inbox_depth`,
    help: "Webhook deliveries stored in the inbox and not yet handled.",
    registers: [registry],
    collect() {
      this.set(inboxState().depth);
    },
  });
  new Gauge({
    name: `${prefix}inbox_oldest_age_seconds`,
    help: "Age of the oldest delivery in the inbox (0 when it is empty).",
    registers: [registry],
    collect() {
      this.set(inboxState().oldestAgeSeconds);
    },
  });
  const inboxHandling = new Histogram({
    name: `${prefix}inbox_handling_seconds`,
    help: "Time of one attempt at handling a stored delivery, by outcome (handled, retry, dropped).",
    labelNames: ["outcome"] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const checkRunWrites = new Counter({
    name: `${prefix}check_run_writes_total`,
    help: "Check-run writes, by kind: queued, in_progress, final, skipped (an intermediate write the write budget held back).",
    labelNames: ["kind"] as const,
    registers: [registry],
  });
  const liveLogUpdates = new Counter({
    name: `${prefix}live_log_updates_total`,
    help: "Running jobs' logs so far written to their check runs (written), or not for the installation's write budget or rate limit (skipped).",
    labelNames: ["result"] as const,
    registers: [registry],
  });
  liveLogUpdates.inc({ result: "written" }, 0);
  liveLogUpdates.inc({ result: "skipped" }, 0);
  const finalLatency = new Histogram({
    name: `${prefix}final_write_latency_seconds`,
    help: "Seconds from a job's end to its completed check-run write.",
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  queueDepth.set(0);

  return {
    registry,
    contentType: registry.contentType,
    webhook(event, outcome) {
      webhookDeliveries.inc({ event, outcome });
    },
    runStarted(executor) {
      runsStarted.inc({ executor });
    },
    runFinished(conclusion, seconds) {
      runsFinished.inc({ conclusion });
      if (Number.isFinite(seconds) && seconds >= 0) runDuration.observe({ conclusion }, seconds);
    },
    setQueueDepth(n) {
      queueDepth.set(n);
    },
    setInstallationQueueDepth(installationId, n) {
      installationQueueDepth.set({ installation_id: installationId }, n);
    },
    queueWait(installationId, seconds) {
      if (Number.isFinite(seconds) && seconds >= 0) queueWait.observe({ installation_id: installationId }, seconds);
    },
    setRateLimitRemaining(installationId, remaining) {
      if (Number.isFinite(remaining)) rateLimitRemaining.set({ installation_id: String(installationId) }, remaining);
    },
    executorError(kind) {
      executorErrors.inc({ kind });
    },
    checkRunWrite(kind) {
      checkRunWrites.inc({ kind });
    },
    liveLogUpdate(result) {
      liveLogUpdates.inc({ result });
    },
    finalWriteLatency(seconds) {
      if (Number.isFinite(seconds) && seconds >= 0) finalLatency.observe(seconds);
    },
    httpRequest(route, status) {
      httpRequests.inc({ route, code: String(status) });
    },
    setOpenStreams(n) {
      openStreams.set(n);
    },
    inboxAttempt(outcome, seconds) {
      if (Number.isFinite(seconds) && seconds >= 0) inboxHandling.observe({ outcome }, seconds);
    },
    watchInbox(read) {
      inboxState = read;
    },
    text() {
      return registry.metrics();
    },
  };
}
