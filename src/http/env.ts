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
  /** YACI_PUBLIC_URL: where users reach this server, for check runs' `details_url`. */
  publicUrl?: string;
  /** YACI_LOG_RETENTION: how long logs are kept (default 14 days). */
  logRetentionMs: number;
  /** YACI_LINK_TTL: how long a run-page link stays valid (default: the log retention). */
  linkTtlMs: number;
}

const MIN_LINK_SECRET_LENGTH = 16;

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

/** Reads and validates the HTTP variables; throws an Error naming the variable on a bad value. */
export function httpEnvFromProcess(env: NodeJS.ProcessEnv = process.env): HttpEnv {
  const apiToken = nonEmpty(env.YACI_API_TOKEN);
  const linkSecret = nonEmpty(env.YACI_LINK_SECRET);
  if (linkSecret !== undefined && linkSecret.length < MIN_LINK_SECRET_LENGTH) {
    throw new Error(
      `YACI_LINK_SECRET must be at least ${MIN_LINK_SECRET_LENGTH} characters (e.g. the output of \`openssl rand -hex 32\`)`,
    );
  }
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
  logs: Pick<LogStore, "readFrom" | "size" | "tail">;
  /** Starts an API run through the configured executor (event "api", no checkout); resolves once accepted. */
  submit(req: SubmitRequest): Promise<{ id: string }>;
  /** What the home page says about this app. */
  about?: { executor: string; version: string };
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
}
