/**
 * Which failed webhook deliveries catch-up (catch-up.ts) has GitHub redeliver, without I/O: the
 * attempts of a guid are grouped (one that succeeded settles it), guids already asked for are
 * skipped (at most once each, remembered in catch-up.ts's record file), the rest go oldest first; the
 * record forgets guids asked for before the window.
 */

/** One attempt of a webhook delivery, as listed by `GET /app/hook/deliveries`. */
export interface Delivery {
  id: number;
  guid: string;
  delivered_at: string;
  status_code: number;
  event: string;
  action: string | null;
}

/** A guid asked for already: the record of catch-up's at-most-once bookkeeping. */
export interface AskedEntry {
  /** When it was asked for (ISO); entries older than the window are pruned. */
  at: string;
  deliveryId: number;
  event: string;
  action: string | null;
  /** "requested": GitHub accepted the redelivery; "gone": GitHub refused it for good (404/422). */
  outcome: "requested" | "gone";
}

/** A guid none of whose attempts succeeded: its first attempt (the original) and its latest one. */
export interface FailedDelivery {
  first: Delivery;
  latest: Delivery;
}

export interface Selection {
  /** Guids none of whose attempts succeeded. */
  failed: number;
  /** The failed guids not asked for yet, oldest first. */
  todo: FailedDelivery[];
}

const ok = (code: number) => code >= 200 && code < 300;

/** Forgets the guids asked for before `cutoff` (ms since the epoch); true when any was forgotten. */
export function pruneAsked(asked: Record<string, AskedEntry>, cutoff: number): boolean {
  let pruned = false;
  for (const [guid, e] of Object.entries(asked)) {
    if (Date.parse(e.at) < cutoff) {
      delete asked[guid];
      pruned = true;
    }
  }
  return pruned;
}

/** The failed guids among `deliveries` and, of them, those to redeliver (not in `asked`), oldest first. */
export function selectRedeliveries(deliveries: readonly Delivery[], asked: Record<string, AskedEntry>): Selection {
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
  const todo = failed
    .filter((g) => !asked[g.first.guid])
    .sort((a, b) => Date.parse(a.first.delivered_at) - Date.parse(b.first.delivered_at) || a.first.id - b.first.id);
  return { failed: failed.length, todo };
}

/** Guids of `todo` still to ask for after the first `tried` were tried: the untried ones and the tried ones not recorded. */
export function remainingAfter(todo: readonly FailedDelivery[], tried: number, asked: Record<string, AskedEntry>): number {
  return todo.length - tried + todo.slice(0, tried).filter((g) => !asked[g.first.guid]).length;
}
