import type { Delivery } from "./catch-up-selection.js";
import type { CatchUpLogger, CatchUpOctokit } from "./catch-up-types.js";

/** The `cursor` of the `rel="next"` link, if any. */
export function nextCursor(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return new URL(m[1]!, "https://api.github.com").searchParams.get("cursor") ?? undefined;
  }
  return undefined;
}

export interface ListingLimits {
  /** `per_page` of each request. */
  perPage: number;
  /** Pages listed at most. */
  maxPages: number;
}

/**
 * The app's webhook deliveries inside the window (delivered at `cutoff` or later), newest first,
 * stopping at the first page that reaches past it (`GET /app/hook/deliveries`, app JWT).
 */
export async function listRecentDeliveries(
  octokit: CatchUpOctokit,
  cutoff: number,
  { perPage, maxPages }: ListingLimits,
  log: Pick<CatchUpLogger, "warn">,
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
