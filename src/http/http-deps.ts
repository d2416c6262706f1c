import type { RunRecord } from "../core/run.js";
import type { LogStore } from "../logs/log-store.js";
import type { Metrics } from "../observability/metrics.js";
import type { HttpEnv } from "./env.js";

/** A run as the HTTP surface reads it: the record, plus the Kubernetes pod name when there is one. */
export type RunView = RunRecord & { podName?: string };

/** A pino-compatible logger (Probot's `app.log` fits). */
export interface HttpLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** What `POST /run` asks for: a shell command and an image (default "alpine"), no checkout. */
export interface SubmitRequest {
  command: string;
  image: string;
}

/**
 * The ports of the HTTP surface (API, run page, health, metrics), implemented by the composition root.
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
  log?: HttpLogger;
  /** How often an open run page polls the LogStore and the run record, in ms. Default 500. */
  pollIntervalMs?: number;
}

/** The image of `POST /run` when none is given, as in the original proof of concept. */
export const DEFAULT_API_IMAGE = "alpine";

/** Run ids are Kubernetes-style names; anything else is not a run (and never reaches the LogStore). */
export function isRunId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id);
}
