import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Octokit } from "@octokit/rest";

/**
 * Catch-up after downtime: asks GitHub for the app's recent webhook deliveries that failed
 * (`GET /app/hook/deliveries`, app JWT) and has GitHub redeliver each of them once
 * (`POST /app/hook/deliveries/{id}/attempts`), oldest first. A redelivery keeps its
 * `X-GitHub-Delivery` guid, and the app starts one run per repository+SHA+job, so asking
 * again is harmless; still, each guid is asked for at most once (remembered in
 * `<dataDir>/catch-up.json`, across restarts).
 */

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

export const DEFAULT_MAX_PER_PASS = 100;
export const CATCHUP_FILE = "catch-up.json";
/** After this many request failures in a row a pass stops (GitHub is down, or the app lacks access). */
const MAX_CONSECUTIVE_ERRORS = 3;

interface Delivery {
  id: number;
  guid: string;
  delivered_at: string;
  status_code: number;
  event: string;
  action: string | null;
}

interface AskedEntry {
  /** When it was asked for (ISO); entries older than the window are pruned. */
  at: string;
  deliveryId: number;
  event: string;
  action: string | null;
  /** "requested": GitHub accepted the redelivery; "gone": GitHub refused it for good (404/422). */
  outcome: "requested" | "gone";
}

interface StateFile {
  version: 1;
  asked: Record<string, AskedEntry>;
}

const defaultTimer: CatchUpTimer = {
  setTimeout(fn, ms) {
    const h = setTimeout(fn, ms);
    h.unref();
    return h;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

const ok = (code: number) => code >= 200 && code < 300;

/** The `cursor` of the `rel="next"` link, if any. */
export function nextCursor(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return new URL(m[1]!, "https://api.github.com").searchParams.get("cursor") ?? undefined;
  }
  return undefined;
}

function statusOf(err: unknown): number | undefined {
  const s = (err as { status?: unknown } | null)?.status;
  return typeof s === "number" ? s : undefined;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Starts catch-up: a first pass after `firstDelayMs`, then one every `intervalMs` after each pass ends. */
export function startCatchUp(options: CatchUpOptions): CatchUp {
  const now = options.now ?? (() => new Date());
  const timer = options.timer ?? defaultTimer;
  const log = options.log;
  const maxPerPass = options.maxPerPass ?? DEFAULT_MAX_PER_PASS;
  const perPage = Math.min(100, options.perPage ?? 100);
  const maxPages = options.maxPages ?? 50;
  const file = join(options.dataDir, CATCHUP_FILE);
  let state: StateFile | undefined;
  let running: Promise<CatchUpResult> | undefined;
  let handle: unknown;
  let stopped = false;

  async function load(): Promise<StateFile> {
    if (state) return state;
    try {
      const parsed = JSON.parse(await readFile(file, "utf8")) as Partial<StateFile>;
      state = { version: 1, asked: parsed && typeof parsed.asked === "object" && parsed.asked ? parsed.asked : {} };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        log.warn({ err, file }, "catch-up: could not read its record of redeliveries; starting a new one");
      }
      state = { version: 1, asked: {} };
    }
    return state;
  }

  async function save(s: StateFile): Promise<void> {
    await mkdir(options.dataDir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(s, null, 2) + "\n");
    await rename(tmp, file);
  }

  /** Deliveries inside the window, newest first, stopping at the first page that reaches past it. */
  async function listRecent(octokit: CatchUpOctokit, cutoff: number): Promise<Delivery[]> {
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

  async function pass(): Promise<CatchUpResult> {
    const result: CatchUpResult = { scanned: 0, failed: 0, redelivered: [], alreadyAsked: 0, remaining: 0, errors: 0 };
    const s = await load();
    const cutoff = now().getTime() - options.windowMs;
    let pruned = false;
    for (const [guid, e] of Object.entries(s.asked)) {
      if (Date.parse(e.at) < cutoff) {
        delete s.asked[guid];
        pruned = true;
      }
    }
    if (pruned) await save(s);

    let deliveries: Delivery[];
    try {
      const octokit = await options.appOctokit();
      deliveries = await listRecent(octokit, cutoff);
      result.scanned = deliveries.length;

      // Group the attempts by guid: one that succeeded settles the guid.
      const groups = new Map<string, { first: Delivery; latest: Delivery; succeeded: boolean }>();
      for (const d of deliveries) {
        const g = groups.get(d.guid);
        if (!g) {
          groups.set(d.guid, { first: d, latest: d, succeeded: ok(d.status_code) });
          continue;
        }
        g.succeeded ||= ok(d.status_code);
        if (Date.parse(d.delivered_at) < Date.parse(g.first.delivered_at)) g.first = d;
        if (Date.parse(d.delivered_at) >= Date.parse(g.latest.delivered_at)) g.latest = d;
      }
      const failed = [...groups.values()].filter((g) => !g.succeeded);
      result.failed = failed.length;
      const todo = failed
        .filter((g) => !s.asked[g.first.guid])
        .sort((a, b) => Date.parse(a.first.delivered_at) - Date.parse(b.first.delivered_at) || a.first.id - b.first.id);
      result.alreadyAsked = failed.length - todo.length;

      let consecutive = 0;
      let i = 0;
      for (; i < todo.length && result.redelivered.length < maxPerPass && !stopped; i++) {
        const { first, latest } = todo[i]!;
        const entry = { at: now().toISOString(), deliveryId: latest.id, event: first.event, action: first.action };
        try {
          await octokit.rest.apps.redeliverWebhookDelivery({ delivery_id: latest.id });
          consecutive = 0;
          s.asked[first.guid] = { ...entry, outcome: "requested" };
          await save(s);
          result.redelivered.push(first.guid);
          log.info(
            { guid: first.guid, event: first.event, action: first.action, deliveryId: latest.id, deliveredAt: first.delivered_at },
            "catch-up: asked GitHub to redeliver a failed webhook delivery",
          );
        } catch (err) {
          result.errors++;
          const status = statusOf(err);
          if (status === 404 || status === 422) {
            // GitHub will never redeliver it (expired, or not redeliverable): do not ask again.
            s.asked[first.guid] = { ...entry, outcome: "gone" };
            await save(s);
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
      result.remaining = todo.length - i + todo.slice(0, i).filter((g) => !s.asked[g.first.guid]).length;
    } catch (err) {
      result.errors++;
      result.error = describe(err);
      const status = statusOf(err);
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
  schedule(options.firstDelayMs ?? 5_000);

  return {
    runOnce,
    stop() {
      stopped = true;
      if (handle !== undefined) timer.clearTimeout(handle);
    },
  };
}
