import type { RunRecord } from "../core/run.js";
import { parseEnvDuration } from "../env-duration.js";
import type { Logger } from "../logger.js";
import type { LogStore } from "../logs/log-store.js";
import { logRetentionFromEnv } from "../logs/retention.js";
import type { Metrics } from "../observability/metrics.js";

/** The HTTP surface's settings, read from the environment once at start-up. */
export interface HttpEnv {
  /** YACI_API_TOKEN: bearer token of `POST /run` and `GET /get`. Unset: the API is off (404). */
  apiToken?: string;
  /** YACI_LINK_SECRET: HMAC key of run-page links. Unset: the run page is off (404). */
  linkSecret?: string;
  /** YACI_METRICS_TOKEN: bearer token of `GET /metrics`. Unset: metrics are public. */
  metricsToken?: string;
  /** YACI_PUBLIC_URL: where users reach this server, for check runs' `details_url`. */
  publicUrl?: string;
  /** YACI_LOG_RETENTION: how long logs are kept (default 14 days). */
  logRetentionMs: number;
  /** YACI_LINK_TTL: how long a run-page link stays valid (default: the log retention). */
  linkTtlMs: number;
}

/** Every secret of the HTTP surface has at least this many characters (`openssl rand -hex 32` gives 64). */
export const MIN_SECRET_LENGTH = 32;

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

/** A secret variable's value, or an Error naming it when it is too short to resist guessing. */
function secret(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = nonEmpty(env[name]);
  if (value !== undefined && value.length < MIN_SECRET_LENGTH) {
    throw new Error(
      `${name} is ${value.length} characters long; it must be at least ${MIN_SECRET_LENGTH}. ` +
        `Make one with \`openssl rand -hex 32\` (or unset ${name})`,
    );
  }
  return value;
}

/** Reads and validates the HTTP variables; throws an Error naming the variable on a bad value. */
export function httpEnvFromProcess(env: NodeJS.ProcessEnv = process.env): HttpEnv {
  const apiToken = secret(env, "YACI_API_TOKEN");
  const linkSecret = secret(env, "YACI_LINK_SECRET");
  const metricsToken = secret(env, "YACI_METRICS_TOKEN");
  const publicUrl = nonEmpty(env.YACI_PUBLIC_URL);
  if (publicUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(publicUrl);
    } catch {
      throw new Error(`YACI_PUBLIC_URL: "${publicUrl}" is not a URL; write e.g. https://yaci.example.com`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new Error(`YACI_PUBLIC_URL must start with https:// (or http://), got "${publicUrl}"`);
    }
  }
  const logRetentionMs = logRetentionFromEnv(env);
  const ttl = nonEmpty(env.YACI_LINK_TTL);
  const linkTtlMs = ttl === undefined ? logRetentionMs : parseEnvDuration("YACI_LINK_TTL", ttl);
  return {
    ...(apiToken !== undefined && { apiToken }),
    ...(linkSecret !== undefined && { linkSecret }),
    ...(metricsToken !== undefined && { metricsToken }),
    ...(publicUrl !== undefined && { publicUrl: publicUrl.replace(/\/+$/, "") }),
    logRetentionMs,
    linkTtlMs,
  };
}

/** A run as the HTTP surface reads it: the record, plus the Kubernetes pod name when there is one. */
export type RunView = RunRecord & { podName?: string };

/** What `POST /run` asks for: a shell command and an image (default "alpine"), no checkout. */
export interface SubmitRequest {
  command: string;
  image: string;
}

/**
 * The ports of the HTTP surface (API, run page, health, metrics), implemented by the composition
 * root (app.ts); every route module receives them.
 */
export interface HttpDeps {
  runs: { get(id: string): RunView | undefined | Promise<RunView | undefined> };
  logs: Pick<LogStore, "readFrom" | "size" | "tail" | "path">;
  /** Starts an API run through the configured executor (event "api", no checkout); resolves once accepted. */
  submit(req: SubmitRequest): Promise<{ id: string }>;
  /** What the home page says about this app (nothing an attacker could use: no version). */
  about?: { executor: string };
  /** Asks the executor to copy a running job's live output into the LogStore while a page watches. */
  followLog?(runId: string, signal: AbortSignal): void;
  /** Is the executor reachable? (For Kubernetes: the API server answers.) */
  ready(): Promise<boolean>;
  metrics: Metrics;
  now(): Date;
  env: HttpEnv;
  log?: Logger;
  /** How often an open run page polls the LogStore and the run record, in ms. Default 500. */
  pollIntervalMs?: number;
  /** Bounds of the run page's live streams (defaults: STREAM_LIMITS). */
  streamLimits?: Partial<StreamLimits>;
  /** Failed authentications allowed per client address and minute before 429 (default 10). */
  maxAuthFailures?: number;
}

/** How many live log streams may be open, for how long, and how long a client may stop reading. */
export interface StreamLimits {
  /** Open streams per run; one more answers 429. */
  perRun: number;
  /** Open streams in total; one more answers 429. */
  total: number;
  /** A stream ends after this long (the browser reconnects where it stopped, with a fresh check). */
  maxDurationMs: number;
  /** A client that has not read what was sent for this long is disconnected. */
  blockedMs: number;
}

export const STREAM_LIMITS: StreamLimits = {
  perRun: 20,
  total: 200,
  maxDurationMs: 30 * 60_000,
  blockedMs: 30_000,
};
