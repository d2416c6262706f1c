import { systemClock, type Clock } from "../clock.js";
import { httpStatusOf } from "../http-status.js";
import type { Logger } from "../logger.js";
import type { Inbox, InboxEntry } from "./inbox.js";

/** How a delivery's handling ended: done, failed for now (tried again later), or given up. */
export type InboxOutcome = "handled" | "retry" | "dropped";

export interface InboxWorkerOptions {
  inbox: Inbox;
  /** Runs the app's webhook handlers on one delivery (`app.receive`); rejects when one of them failed. */
  handle(entry: InboxEntry, payload: unknown): Promise<void>;
  log: Logger;
  /** How many deliveries (of different repositories) are handled at once. */
  concurrency: number;
  /** Waits before the 1st, 2nd, … retry of a transient failure; the last one repeats. */
  retryDelaysMs?: number[];
  /** A delivery still failing this long after it arrived is dropped (default 24 h). */
  maxAgeMs?: number;
  clock?: Clock;
  /** Every attempt's outcome and how long it took. */
  onAttempt?(outcome: InboxOutcome, seconds: number): void;
}

export const INBOX_RETRY_DELAYS_MS = [1_000, 5_000, 30_000, 120_000, 300_000];
const DAY_MS = 86_400_000;

/** Status codes worth trying again: GitHub is busy, down, or rate-limiting. */
const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
/** Errors without an answer that a later attempt may not meet: the network, a full disk. */
const TRANSIENT_CODES = /^(ECONNRESET|ECONNREFUSED|ECONNABORTED|ETIMEDOUT|EPIPE|EAI_AGAIN|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|ENOSPC|EDQUOT|EIO|EMFILE|ENFILE|EBUSY|EAGAIN|UND_ERR_\w+)$/;

/**
 * Is it worth handling this delivery again later? Yes for GitHub's 5xx, 408, 429, a rate limit
 * (403 with `retry-after` or no requests left), and errors with no answer at all; no for any other
 * 4xx (a repository the installation cannot see: 404) and for errors in the payload or the code.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof AggregateError) return err.errors.some(isTransient);
  if (typeof err !== "object" || err === null) return false;
  const status = httpStatusOf(err);
  if (status !== undefined && status >= 100) {
    if (TRANSIENT_STATUS.has(status)) return true;
    const headers = ((err as { response?: { headers?: Record<string, unknown> } }).response?.headers ?? {}) as Record<string, unknown>;
    return status === 403 && (headers["retry-after"] !== undefined || headers["x-ratelimit-remaining"] === "0");
  }
  const e = err as { code?: unknown; name?: unknown; cause?: unknown };
  if (typeof e.code === "string" && TRANSIENT_CODES.test(e.code)) return true;
  if (e.name === "AbortError" || e.name === "TimeoutError") return true;
  return e.cause !== undefined && e.cause !== err && isTransient(e.cause);
}

interface Lane {
  entries: InboxEntry[];
  busy: boolean;
  /** A retry is scheduled: the lane waits for it. */
  timer?: unknown;
  attempts: number;
}

/**
 * Drains the inbox with the app's handlers. Deliveries of one lane (repository) are handled one at
 * a time in arrival order, a failing one holding back those behind it; different lanes run in
 * parallel, at most `concurrency` at once. A delivery leaves the inbox when its handling finished,
 * or failed permanently, or kept failing for `maxAgeMs` (both logged once, at error level).
 *
 * Lifecycle: `start` takes what the inbox holds (a replay after a restart) and then every new
 * delivery; calling it again does nothing. `close` stops starting handlings and waits for those
 * running; safe to call twice. What is not handled stays in the inbox for the next start.
 */
export class InboxWorker {
  private readonly lanes = new Map<string, Lane>();
  private readonly ready: string[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly clock: Clock;
  private readonly retryDelaysMs: number[];
  private started = false;
  private closed = false;

  constructor(private readonly opts: InboxWorkerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.retryDelaysMs = opts.retryDelaysMs?.length ? opts.retryDelaysMs : INBOX_RETRY_DELAYS_MS;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const replay = this.opts.inbox.pending();
    if (replay.length > 0) this.opts.log.info({ deliveries: replay.length }, "inbox: handling deliveries stored before the restart");
    for (const e of replay) this.add(e);
    this.opts.inbox.subscribe((e) => this.add(e));
    this.pump();
  }

  /** Resolves when nothing is being handled right now (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const lane of this.lanes.values()) if (lane.timer !== undefined) this.clock.clearTimeout(lane.timer);
    await this.idle();
  }

  private add(e: InboxEntry): void {
    let lane = this.lanes.get(e.lane);
    if (!lane) this.lanes.set(e.lane, (lane = { entries: [], busy: false, attempts: 0 }));
    lane.entries.push(e);
    if (lane.entries.length === 1 && !lane.busy && lane.timer === undefined) this.ready.push(e.lane);
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.opts.concurrency && this.ready.length > 0) {
      const key = this.ready.shift()!;
      const lane = this.lanes.get(key);
      const entry = lane?.entries[0];
      if (!lane || !entry || lane.busy) continue;
      lane.busy = true;
      const p = this.attempt(lane, entry).finally(() => {
        this.running.delete(p);
        lane.busy = false;
        if (lane.entries.length === 0 && lane.timer === undefined) this.lanes.delete(key);
        else if (lane.timer === undefined) this.ready.push(key);
        this.pump();
      });
      this.running.add(p);
    }
  }

  private async attempt(lane: Lane, entry: InboxEntry): Promise<void> {
    const { log } = this.opts;
    const started = this.clock.now();
    const fields = { delivery: entry.id, event: entry.name };
    let outcome: InboxOutcome;
    try {
      const payload: unknown = JSON.parse((await this.opts.inbox.readBody(entry)).toString("utf8"));
      await this.opts.handle(entry, payload);
      outcome = "handled";
      log.debug?.({ ...fields, ms: this.clock.now() - started }, "delivery handled");
    } catch (err) {
      const transient = isTransient(err);
      const tooOld = this.clock.now() - entry.receivedAt >= (this.opts.maxAgeMs ?? DAY_MS);
      const reason = describe(err);
      if (transient && !tooOld) {
        const delay = this.retryDelaysMs[Math.min(lane.attempts, this.retryDelaysMs.length - 1)]!;
        lane.attempts++;
        log.warn({ ...fields, attempt: lane.attempts, retryInMs: delay, reason }, "delivery failed for now; the inbox tries it again");
        lane.timer = this.clock.setTimeout(() => {
          lane.timer = undefined;
          this.ready.push(entry.lane);
          this.pump();
        }, delay);
        this.opts.onAttempt?.("retry", (this.clock.now() - started) / 1000);
        return;
      }
      log.error(
        { ...fields, attempts: lane.attempts + 1, reason },
        transient ? "delivery dropped: it kept failing for too long" : "delivery dropped: its handling failed and would fail again",
      );
      outcome = "dropped";
    }
    lane.attempts = 0;
    lane.entries.shift();
    this.opts.inbox.ack(entry);
    this.opts.onAttempt?.(outcome, (this.clock.now() - started) / 1000);
  }
}

/** One line about why handling failed: the status and message of each error (never the payload). */
function describe(err: unknown): string {
  const errors = err instanceof AggregateError ? err.errors : [err];
  return errors
    .map((e) => {
      const status = httpStatusOf(e);
      const message = e instanceof Error ? e.message : String(e);
      return (status !== undefined ? `${status} ` : "") + message.split("\n")[0]!.slice(0, 300);
    })
    .join("; ");
}
