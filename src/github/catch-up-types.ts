import type { Octokit } from "@octokit/rest";

/** The public shapes of catch-up (catch-up.ts): its options, its dependencies and its results. */

/** The slice of the app-authenticated (JWT) Octokit catch-up calls. */
export interface CatchUpOctokit {
  rest: { apps: Pick<Octokit["rest"]["apps"], "listWebhookDeliveries" | "redeliverWebhookDelivery"> };
}

export interface CatchUpLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** The timer functions catch-up uses: the global ones (unref'd) by default, a fake in tests. */
export interface CatchUpTimer {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface CatchUpOptions {
  appOctokit: () => Promise<CatchUpOctokit>;
  dataDir: string;
  log: CatchUpLogger;
  /** Only deliveries newer than this are considered. */
  windowMs: number;
  /** Time between the end of one pass and the start of the next. */
  intervalMs: number;
  /** Delay of the first pass after start (default 5 s). */
  firstDelayMs?: number;
  /** Redeliveries asked for per pass at most (default 100); the rest wait for the next pass. */
  maxPerPass?: number;
  /** `per_page` of the listing (default 100, GitHub's maximum). */
  perPage?: number;
  /** Pages listed per pass at most (default 50). */
  maxPages?: number;
  now?: () => Date;
  timer?: CatchUpTimer;
}

export interface CatchUpResult {
  /** Deliveries listed that are inside the window. */
  scanned: number;
  /** Guids inside the window none of whose attempts succeeded. */
  failed: number;
  /** Guids asked for in this pass, oldest first. */
  redelivered: string[];
  /** Failed guids skipped because an earlier pass (or process) asked for them already. */
  alreadyAsked: number;
  /** Failed guids left for the next pass (over the cap, or after errors). */
  remaining: number;
  /** Requests that failed in this pass. */
  errors: number;
  /** Set when the pass could not complete (e.g. listing failed). */
  error?: string;
}

export interface CatchUp {
  /** One pass now; never runs twice at once; never rejects (errors are logged and returned). */
  runOnce(): Promise<CatchUpResult>;
  stop(): void;
}
