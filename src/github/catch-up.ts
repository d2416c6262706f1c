import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Octokit } from "@octokit/rest";
import { realTimers, type Timers } from "../clock.js";
import { parseEnvDuration } from "../env-duration.js";
import { httpStatusOf } from "../http-status.js";
import type { Logger } from "../logger.js";
import { pruneAsked, remainingAfter, selectRedeliveries, type AskedEntry, type Delivery } from "./catch-up-selection.js";

/**
 * Catch-up after downtime: asks GitHub for the app's recent webhook deliveries that failed
 * (`GET /app/hook/deliveries`, app JWT) and has GitHub redeliver each of them once
 * (`POST /app/hook/deliveries/{id}/attempts`), oldest first. A redelivery keeps its
 * `X-GitHub-Delivery` guid, and the app starts one run per repository+SHA+job, so asking
 * again is harmless; still, each guid is asked for at most once (remembered in
 * `<dataDir>/catch-up.json`, across restarts).
 *
 * This file holds its settings, the listing, the record file, the timer and the pass; which
 * deliveries to redeliver is decided in catch-up-selection.ts (pure).
 */

// --- Settings -------------------------------------------------------------------------------

/** How far back catch-up looks for failed deliveries by default (GitHub keeps them 3 days). */
export const DEFAULT_CATCHUP_WINDOW_MS = 24 * 3_600_000;
/** How often catch-up runs by default. */
export const DEFAULT_CATCHUP_INTERVAL_MS = 10 * 60_000;
/** The first pass waits this long after start, so the webhook server listens when redeliveries arrive. */
export const DEFAULT_CATCHUP_FIRST_DELAY_MS = 5_000;
export const DEFAULT_MAX_PER_PASS = 100;
/** After this many request failures in a row a pass stops (GitHub is down, or the app lacks access). */
const MAX_CONSECUTIVE_ERRORS = 3;

export interface CatchUpEnvOptions {
  windowMs: number;
  intervalMs: number;
  firstDelayMs: number;
}

const OFF = new Set(["0", "off", "false", "no", "none", "disabled"]);
const isZero = (s: string) => /^0+(\.0+)?(ms|s|m|h|d|w)?$/.test(s);

/**
 * The catch-up settings: `YACI_CATCHUP_INTERVAL` (default 10m; "0" or "off" disables catch-up:
 * the result is null), `YACI_CATCHUP_WINDOW` (default 24h), `YACI_CATCHUP_FIRST_DELAY`
 * (default 5s; "0" runs the first pass at once). Throws on values that are not durations.
 */
export function catchUpOptionsFromEnv(env: Record<string, string | undefined> = process.env): CatchUpEnvOptions | null {
  const interval = env.YACI_CATCHUP_INTERVAL?.trim().toLowerCase() ?? "";
  if (OFF.has(interval) || (interval !== "" && isZero(interval))) return null;
  const intervalMs = interval === "" ? DEFAULT_CATCHUP_INTERVAL_MS : parseEnvDuration("YACI_CATCHUP_INTERVAL", interval);
  const window = env.YACI_CATCHUP_WINDOW?.trim() ?? "";
  const windowMs = window === "" ? DEFAULT_CATCHUP_WINDOW_MS : parseEnvDuration("YACI_CATCHUP_WINDOW", window);
  const first = env.YACI_CATCHUP_FIRST_DELAY?.trim() ?? "";
  const firstDelayMs = first === "" ? DEFAULT_CATCHUP_FIRST_DELAY_MS : isZero(first) ? 0 : parseEnvDuration("YACI_CATCHUP_FIRST_DELAY", first);
  return { windowMs, intervalMs, firstDelayMs };
}

// --- Public shapes --------------------------------------------------------------------------

/** The slice of the app-authenticated (JWT) Octokit catch-up calls. */
export interface CatchUpOctokit {
  rest: { apps: Pick<Octokit["rest"]["apps"], "listWebhookDeliveries" | "redeliverWebhookDelivery"> };
}

export interface CatchUpOptions {
  appOctokit: () => Promise<CatchUpOctokit>;
  dataDir: string;
  log: Logger;
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
  /** The global timers (unref'd) by default, a fake in tests. */
  timer?: Timers;
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

// --- Listing --------------------------------------------------------------------------------

/** The `cursor` of the `rel="next"` link, if any. */
export function nextCursor(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return new URL(m[1]!, "https://api.github.com").searchParams.get("cursor") ?? undefined;
  }
  return undefined;
}

interface ListingLimits {
  /** `per_page` of each request. */
  perPage: number;
  /** Pages listed at most. */
  maxPages: number;
}

/**
 * The app's webhook deliveries inside the window (delivered at `cutoff` or later), newest first,
 * stopping at the first page that reaches past it (`GET /app/hook/deliveries`, app JWT).
 */
async function listRecentDeliveries(
  octokit: CatchUpOctokit,
  cutoff: number,
  { perPage, maxPages }: ListingLimits,
  log: Pick<Logger, "warn">,
): Promise<Delivery[]> {
  const out: Delivery[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const res = await octokit.rest.apps.listWebhookDeliveries({ per_page: perPage, ...(cursor ? { cursor } : {}) });
    let reachedOld = false;
    for (const d of res.data) {
      if (Date.parse(d.delivered_at) < cutoff) reachedOld = true;
      else out.push({ id: d.id, guid: d.guid, delivered_at: d.delivered_at, status_code: d.status_code, event: d.event, action: d.action ?? null });
    }
    cursor = nextCursor(res.headers.link);
    if (reachedOld || !cursor || res.data.length === 0) return out;
  }
  log.warn({ pages: maxPages }, "catch-up: stopped listing deliveries after the page limit");
  return out;
}

// --- Record file ----------------------------------------------------------------------------

/** Catch-up's record of the guids it asked GitHub to redeliver, in `<dataDir>/catch-up.json` (across restarts). */
export const CATCHUP_FILE = "catch-up.json";

interface CatchUpRecord {
  version: 1;
  asked: Record<string, AskedEntry>;
}

interface CatchUpRecordFile {
  /** The record: read once (a missing or unreadable file starts an empty one), then the same object. */
  load(): Promise<CatchUpRecord>;
  /** Writes the record atomically (a temporary file renamed over the old one). */
  save(record: CatchUpRecord): Promise<void>;
}

function catchUpRecordFile(dataDir: string, log: Pick<Logger, "warn">): CatchUpRecordFile {
  const file = join(dataDir, CATCHUP_FILE);
  let state: CatchUpRecord | undefined;

  return {
    async load() {
      if (state) return state;
      try {
        const parsed = JSON.parse(await readFile(file, "utf8")) as Partial<CatchUpRecord>;
        state = { version: 1, asked: parsed && typeof parsed.asked === "object" && parsed.asked ? parsed.asked : {} };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
          log.warn({ err, file }, "catch-up: could not read its record of redeliveries; starting a new one");
        }
        state = { version: 1, asked: {} };
      }
      return state;
    },

    async save(s) {
      await mkdir(dataDir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(s, null, 2) + "\n");
      await rename(tmp, file);
    },
  };
}

// --- The timer and the pass -----------------------------------------------------------------

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Starts catch-up: a first pass after `firstDelayMs`, then one every `intervalMs` after each pass ends. */
export function startCatchUp(options: CatchUpOptions): CatchUp {
  const now = options.now ?? (() => new Date());
  const timer = options.timer ?? realTimers;
  const log = options.log;
  const maxPerPass = options.maxPerPass ?? DEFAULT_MAX_PER_PASS;
  const limits = { perPage: Math.min(100, options.perPage ?? 100), maxPages: options.maxPages ?? 50 };
  const record = catchUpRecordFile(options.dataDir, log);
  let running: Promise<CatchUpResult> | undefined;
  let handle: unknown;
  let stopped = false;

  async function pass(): Promise<CatchUpResult> {
    const result: CatchUpResult = { scanned: 0, failed: 0, redelivered: [], alreadyAsked: 0, remaining: 0, errors: 0 };
    const s = await record.load();
    const cutoff = now().getTime() - options.windowMs;
    if (pruneAsked(s.asked, cutoff)) await record.save(s);

    try {
      const octokit = await options.appOctokit();
      const deliveries = await listRecentDeliveries(octokit, cutoff, limits, log);
      result.scanned = deliveries.length;
      const { failed, todo } = selectRedeliveries(deliveries, s.asked);
      result.failed = failed;
      result.alreadyAsked = failed - todo.length;

      let consecutive = 0;
      let i = 0;
      for (; i < todo.length && result.redelivered.length < maxPerPass && !stopped; i++) {
        const { first, latest } = todo[i]!;
        const entry = { at: now().toISOString(), deliveryId: latest.id, event: first.event, action: first.action };
        try {
          await octokit.rest.apps.redeliverWebhookDelivery({ delivery_id: latest.id });
          consecutive = 0;
          s.asked[first.guid] = { ...entry, outcome: "requested" };
          await record.save(s);
          result.redelivered.push(first.guid);
          log.info(
            { guid: first.guid, event: first.event, action: first.action, deliveryId: latest.id, deliveredAt: first.delivered_at },
            "catch-up: asked GitHub to redeliver a failed webhook delivery",
          );
        } catch (err) {
          result.errors++;
          const status = httpStatusOf(err);
          if (status === 404 || status === 422) {
            // GitHub will never redeliver it (expired, or not redeliverable): do not ask again.
            s.asked[first.guid] = { ...entry, outcome: "gone" };
            await record.save(s);
            log.warn({ guid: first.guid, event: first.event, status, err: describe(err) }, "catch-up: GitHub refused to redeliver; not asking again");
            continue;
          }
          log.warn({ guid: first.guid, event: first.event, status, err: describe(err) }, "catch-up: redelivery request failed; the next pass tries again");
          if (++consecutive >= MAX_CONSECUTIVE_ERRORS) {
            i++;
            result.error = `${consecutive} redelivery requests failed in a row: ${describe(err)}`;
            break;
          }
        }
      }
      result.remaining = remainingAfter(todo, i, s.asked);
    } catch (err) {
      result.errors++;
      result.error = describe(err);
      const status = httpStatusOf(err);
      log.error(
        { err, status },
        status === 401 || status === 403
          ? "catch-up: GitHub refused to list the app's webhook deliveries (JWT authentication); the next pass tries again"
          : "catch-up: listing webhook deliveries failed; the next pass tries again",
      );
    }
    const { redelivered, ...counts } = result;
    log.info({ ...counts, redelivered: redelivered.length }, "catch-up pass done");
    if (result.remaining > 0) log.info({ remaining: result.remaining }, "catch-up: failed deliveries remain for the next pass");
    return result;
  }

  const runOnce = (): Promise<CatchUpResult> => {
    if (running) return running;
    running = pass()
      .catch((err: unknown): CatchUpResult => {
        // Only the record file can fail here (disk full, permissions).
        log.error({ err }, "catch-up pass failed");
        return { scanned: 0, failed: 0, redelivered: [], alreadyAsked: 0, remaining: 0, errors: 1, error: describe(err) };
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  const schedule = (ms: number) => {
    if (stopped) return;
    handle = timer.setTimeout(() => {
      void runOnce().then(() => schedule(options.intervalMs));
    }, ms);
  };
  schedule(options.firstDelayMs ?? DEFAULT_CATCHUP_FIRST_DELAY_MS);

  return {
    runOnce,
    stop() {
      stopped = true;
      if (handle !== undefined) timer.clearTimeout(handle);
    },
  };
}
