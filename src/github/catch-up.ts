import { listRecentDeliveries } from "./catch-up-listing.js";
import { catchUpRecordFile } from "./catch-up-record.js";
import { pruneAsked, remainingAfter, selectRedeliveries } from "./catch-up-selection.js";
import type { CatchUp, CatchUpOptions, CatchUpResult, CatchUpTimer } from "./catch-up-types.js";

/**
 * Catch-up after downtime: asks GitHub for the app's recent webhook deliveries that failed
 * (`GET /app/hook/deliveries`, app JWT) and has GitHub redeliver each of them once
 * (`POST /app/hook/deliveries/{id}/attempts`), oldest first. A redelivery keeps its
 * `X-GitHub-Delivery` guid, and the app starts one run per repository+SHA+job, so asking
 * again is harmless; still, each guid is asked for at most once (remembered in
 * `<dataDir>/catch-up.json`, across restarts).
 *
 * This file is the timer and the pass; the listing is in catch-up-listing.ts, which deliveries
 * to redeliver in catch-up-selection.ts (pure), the record file in catch-up-record.ts.
 */

export type { CatchUp, CatchUpLogger, CatchUpOctokit, CatchUpOptions, CatchUpResult, CatchUpTimer } from "./catch-up-types.js";
export { nextCursor } from "./catch-up-listing.js";
export { CATCHUP_FILE } from "./catch-up-record.js";

export const DEFAULT_MAX_PER_PASS = 100;
/** After this many request failures in a row a pass stops (GitHub is down, or the app lacks access). */
const MAX_CONSECUTIVE_ERRORS = 3;

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
          const status = statusOf(err);
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
