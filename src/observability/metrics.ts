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
  /** GitHub's `x-ratelimit-remaining` as last seen for an installation. */
  setRateLimitRemaining(installationId: number | string, remaining: number): void;
  /** An executor operation failed ("start", "cancel", "watch", "log", ...). */
  executorError(kind: string): void;
  /** One HTTP request answered by YACI's own routes (not webhooks). */
  httpRequest(route: string, status: number): void;
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
    setRateLimitRemaining(installationId, remaining) {
      if (Number.isFinite(remaining)) rateLimitRemaining.set({ installation_id: String(installationId) }, remaining);
    },
    executorError(kind) {
      executorErrors.inc({ kind });
    },
    httpRequest(route, status) {
      httpRequests.inc({ route, code: String(status) });
    },
    text() {
      return registry.metrics();
    },
  };
}
