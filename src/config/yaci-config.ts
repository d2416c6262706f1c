/**
 * The normalized `.yaci.yml` (version 1) after defaults are applied: what the rest of YACI uses.
 * The schema that produces it lives in `schema.ts`; `parseConfig` turns text into this shape.
 */
export interface JobResources {
  cpu?: string;
  memory?: string;
}

export interface JobConfig {
  /** The job's name: the check run's name. */
  name: string;
  /** Container image (Kubernetes executor; the local executor ignores it and says so). */
  image: string;
  /** Shell script, run with `sh -ec` in the checked-out repository. */
  run: string;
  /** Timeout in milliseconds (default 1h, at most 6h). */
  timeoutMs: number;
  /** The config's top-level `env` merged with the job's own `env` (job wins). */
  env: Record<string, string>;
  resources?: JobResources;
  /**
   * The jobs (by their final names, matrix combinations expanded) that must succeed before this
   * one starts. Absent or empty: starts at once.
   */
  needs?: string[];
  /** Names of secrets given to the job as environment variables (top-level `secrets` + the job's own). */
  secrets?: string[];
  /** A matrix combination: its values by key, in key order (also in `env` as `MATRIX_<KEY>`). */
  matrix?: Record<string, string>;
}

/** A branch filter: `undefined` branches = every branch. */
export interface EventFilter {
  branches?: string[];
}

export interface YaciConfig {
  version: 1;
  /** Which events run the jobs. A missing key means the event does not run anything,
   *  unless `on` itself was omitted, in which case both events run on every branch. */
  on: { push?: EventFilter; pull_request?: EventFilter };
  jobs: JobConfig[];
  /** Cancel still-running jobs of older commits on the same branch / pull request (default true). */
  cancelSuperseded: boolean;
}

export const DEFAULT_IMAGE = "alpine:3.20";
export const DEFAULT_TIMEOUT_MS = 60 * 60 * 1000;
export const MAX_TIMEOUT_MS = 6 * 60 * 60 * 1000;

/** One problem in a `.yaci.yml`, with its 1-based position. */
export interface ConfigError {
  message: string;
  /** How to fix it, in one sentence. */
  hint?: string;
  line: number;
  column: number;
  /** Dotted path of the offending key, e.g. `jobs.test.timeout`. */
  path?: string;
}

/**
 * A failed parse lists at most `CONFIG_LIMITS.errors` problems, the first ones in the file;
 * `omitted` counts the rest.
 */
export type ParseResult = { ok: true; config: YaciConfig } | { ok: false; errors: ConfigError[]; omitted?: number };
