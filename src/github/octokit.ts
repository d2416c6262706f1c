import type { Octokit } from "@octokit/rest";
import { ProbotOctokit } from "probot";
import type { RunSpec } from "../core/run.js";

/**
 * YACI's Octokit: Probot's, with rate limits waited out and each installation's writes kept within
 * GitHub's budget, plus the state that budget keeps (`WriteBudget`, `RateLimitTracker`). That state
 * is one per app, built by the composition root (deps.ts) and handed to `yaciOctokit`, which feeds
 * it; the reporter and the metrics read it. Nothing here is a module-level instance.
 */

/**
 * GitHub's content-creation budget per installation: 80 requests a minute, 500 an hour. `reserve`
 * is the part kept for final writes (completed check runs, notices, comments): queued and
 * in-progress writes may use only `limit - reserve` of a window, final ones all of it.
 */
export const WRITE_WINDOWS = [
  { limit: 80, ms: 60_000, reserve: 50 },
  { limit: 500, ms: 3_600_000, reserve: 300 },
] as const;

export interface WriteWindow {
  limit: number;
  ms: number;
  /** Kept for final writes (default 0). */
  reserve?: number;
}

/**
 * How much a write matters. `final` (the default): a result GitHub must get (a completed check
 * run, a notice, a comment); it waits for room, however long. `intermediate`: a queued or
 * in-progress write, which the final one supersedes; it goes out at once or not at all.
 */
export type WritePriority = "final" | "intermediate";

/** An intermediate write refused because its share of the budget is used up (nothing was sent). */
export class WriteSkipped extends Error {
  readonly skipped = true;
  constructor(
    readonly installation: string,
    /** When room for an intermediate write is expected again. */
    readonly retryInMs: number,
  ) {
    super(`write budget of installation ${installation}: no room for an intermediate write (room again in ${retryInMs} ms)`);
  }
}

export function isWriteSkipped(err: unknown): err is WriteSkipped {
  return err instanceof WriteSkipped || (err as { skipped?: unknown } | undefined)?.skipped === true;
}

/** `YACI_WRITE_BUDGET` ("80/1m:50,500/1h:300"): the windows, for a GitHub Enterprise Server with other limits. */
export function parseWriteWindows(text: string | undefined): WriteWindow[] {
  if (!text?.trim()) return WRITE_WINDOWS.map((w) => ({ ...w }));
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return text.split(",").map((part) => {
    const m = /^\s*(\d+)\s*\/\s*(\d+)\s*(ms|s|m|h)\s*(?::\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new Error(`YACI_WRITE_BUDGET: "${part.trim()}" is not LIMIT/DURATION[:RESERVE] (e.g. 80/1m:50)`);
    const limit = Number(m[1]);
    const ms = Number(m[2]) * units[m[3]!]!;
    const reserve = m[4] === undefined ? Math.floor((limit * 5) / 8) : Number(m[4]);
    if (limit < 1 || ms < 1) throw new Error(`YACI_WRITE_BUDGET: "${part.trim()}": the limit and the duration must be at least 1`);
    if (reserve >= limit) throw new Error(`YACI_WRITE_BUDGET: "${part.trim()}": the reserve must be below the limit`);
    return { limit, ms, reserve };
  });
}

interface Entry {
  t: number;
  open: boolean;
}

/**
 * A per-installation limiter for mutating requests: requests go out at once, in bursts, as long
 * as no sliding window holds more than its limit; past that a final write waits and an
 * intermediate one is refused (`WriteSkipped`), so it never queues ahead of a final one. Its
 * `key(id).schedule(options, fn)` is the shape `@octokit/plugin-throttling` takes as a group;
 * `options.priority` says which kind of write it is.
 */
export class WriteBudget {
  /**
   * When each write went out, per installation; `t` moves to the write's end once it has one.
   * While it is `open` (sent, not answered) it counts as sent now: GitHub may not have seen it
   * yet, however long ago it left (a slow connection, a stalled process).
   */
  private readonly sent = new Map<string, Entry[]>();
  private readonly waiting = new Map<string, Promise<void>>();
  private readonly tickets = new Set<string>();
  private nextTicket = 0;

  constructor(
    private readonly windows: readonly WriteWindow[] = WRITE_WINDOWS,
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  /** How long until one more write of this priority fits (0 = now). */
  delayFor(id: string, priority: WritePriority = "final"): number {
    const t = this.now();
    const times = (this.sent.get(id) ?? []).map((e) => (e.open ? t : e.t)).sort((a, b) => a - b);
    let delay = 0;
    for (const w of this.windows) {
      const limit = priority === "final" ? w.limit : w.limit - (w.reserve ?? 0);
      const inWindow = times.filter((x) => x > t - w.ms);
      if (limit <= 0) delay = Math.max(delay, w.ms);
      else if (inWindow.length >= limit) delay = Math.max(delay, inWindow[inWindow.length - limit]! + w.ms - t + 1);
    }
    return delay;
  }

  /** Writes sent for this installation within the last `ms` (metrics, tests). */
  sentWithin(id: string, ms: number): number {
    const t = this.now();
    return (this.sent.get(id) ?? []).filter((x) => x.open || x.t > t - ms).length;
  }

  private record(id: string): Entry {
    const maxMs = Math.max(...this.windows.map((w) => w.ms));
    const entries = (this.sent.get(id) ?? []).filter((x) => x.open || x.t > this.now() - maxMs);
    const entry: Entry = { t: this.now(), open: true };
    entries.push(entry);
    this.sent.set(id, entries);
    return entry;
  }

  private async acquire(id: string): Promise<Entry> {
    let entry!: Entry;
    // One waiter at a time per installation keeps the order of requests.
    const prev = this.waiting.get(id) ?? Promise.resolve();
    const mine = prev.then(async () => {
      for (let d = this.delayFor(id); d > 0; d = this.delayFor(id)) await this.sleep(d);
      entry = this.record(id);
    });
    this.waiting.set(id, mine);
    await mine;
    if (this.waiting.get(id) === mine) this.waiting.delete(id);
    return entry;
  }

  /** Records an intermediate write now, or throws `WriteSkipped` (nothing recorded) when its share is gone. */
  private admit(id: string): Entry {
    // Its limit is below a final write's: while a final one waits, this one cannot fit either.
    const delay = this.delayFor(id, "intermediate");
    if (delay > 0) throw new WriteSkipped(id, delay);
    return this.record(id);
  }

  key(id: string) {
    return {
      schedule: async <T>(options: { priority?: WritePriority }, fn: () => Promise<T>): Promise<T> => {
        const entry = options?.priority === "intermediate" ? this.admit(id) : await this.acquire(id);
        // GitHub counts a write when it arrives, which may be well after it left the queue (a
        // token to mint first, a slow connection): it holds its place in the window until it ends.
        try {
          return await fn();
        } finally {
          entry.t = Math.max(entry.t, this.now());
          entry.open = false;
        }
      },
    };
  }

  /**
   * A one-use mark for a request already counted by `schedule` (sent as PREPAID_HEADER): the
   * request layer lets its first attempt through uncounted; a retry is a new write and is counted.
   */
  ticket(): string {
    const t = `t${++this.nextTicket}`;
    this.tickets.add(t);
    if (this.tickets.size > 10_000) this.tickets.delete(this.tickets.values().next().value!);
    return t;
  }

  redeem(ticket: string | undefined): boolean {
    return ticket !== undefined && this.tickets.delete(ticket);
  }
}

/** The request header that carries a `WriteBudget.ticket()`; removed before the request leaves. */
export const PREPAID_HEADER = "x-yaci-write-ticket";

/**
 * The last `x-ratelimit-remaining` GitHub reported, per installation (fed by the Octokit's
 * response hook). The reporter reads it to drop intermediate updates when the budget runs low.
 */
export class RateLimitTracker {
  private readonly remaining = new Map<string, number>();
  private readonly listeners = new Set<(installationId: string, remaining: number) => void>();

  record(installationId: string, remaining: number): void {
    this.remaining.set(installationId, remaining);
    for (const fn of this.listeners) fn(installationId, remaining);
  }

  get(installationId: string | number): number | undefined {
    return this.remaining.get(String(installationId));
  }

  onChange(fn: (installationId: string, remaining: number) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

/** The budget state every Octokit of one app shares; keyed by installation (Probot sets `throttle.id`). */
export interface ApiBudget {
  writeBudget: WriteBudget;
  rateLimits: RateLimitTracker;
}

/** How often a request that hit a rate limit is tried again before it fails. */
export const RATE_LIMIT_RETRIES = 5;

interface ThrottleOptions {
  method: string;
  url: string;
}
interface WithLog {
  log: { warn(msg: string): void };
}
type RequestOptions = { method?: string; url?: string; headers?: Record<string, string | number | undefined> };
type Request = (options: RequestOptions) => Promise<unknown>;
type HookedOctokit = {
  hook: {
    after(name: string, fn: (res: { headers: Record<string, unknown> }) => void): void;
    wrap(name: string, fn: (request: Request, options: RequestOptions) => Promise<unknown>): void;
  };
};

/** The request header by which a caller marks a write `intermediate` (see `WritePriority`); never sent. */
export const PRIORITY_HEADER = "x-yaci-write-priority";

/** Requests that create no content: reads, and minting a token. */
function isWrite(method: string | undefined, url: string | undefined): boolean {
  const m = (method ?? "GET").toUpperCase();
  if (m === "GET" || m === "HEAD") return false;
  return !/\/app\/installations\/[^/]+\/access_tokens$/.test(url ?? "");
}

/** The throttling plugin's `write` group, emptied: the write budget runs in `yaciOctokit`'s own hook. */
const PASS_THROUGH = { key: () => ({ schedule: <T>(_o: object, fn: () => Promise<T>) => fn() }) };

/**
 * The fetch under an installation's Octokit: a write whose first attempt the budget already
 * counted (its ticket) goes out as it is; a retry (of the throttling or retry plugin) is a new
 * write and is counted, and waits, like any final one.
 */
function countingFetch(writeBudget: WriteBudget, id: string, base: typeof fetch): typeof fetch {
  return (async (url: string | URL | globalThis.Request, init?: RequestInit) => {
    const headers = { ...(init?.headers as Record<string, string> | undefined) };
    const ticket = headers[PREPAID_HEADER];
    delete headers[PREPAID_HEADER];
    delete headers[PRIORITY_HEADER];
    const send = () => base(url, { ...init, headers });
    if (!isWrite(init?.method, String(url)) || writeBudget.redeem(ticket)) return send();
    return writeBudget.key(id).schedule({ priority: "final" }, send);
  }) as typeof fetch;
}

/**
 * Probot's Octokit class, with rate limits waited out instead of dropped (Probot 14's own throttle
 * options only log a secondary rate limit, 403 + retry-after, and fail the request), with each
 * installation's writes limited by GitHub's real budget (80/min, 500/h, in bursts, a part kept for
 * final writes: `writeBudget`) instead of the throttling plugin's fixed one request per second,
 * and with every response's remaining rate limit recorded in `rateLimits`.
 *
 * A write is `final` unless its caller sends `PRIORITY_HEADER: intermediate`; an intermediate
 * write with no room left fails with `WriteSkipped` before anything is sent. The budget is taken
 * in the outermost request hook, before the throttling plugin's queues, so a write that waits for
 * the next minute holds none of the installation's request slots (reads go on).
 */
export function yaciOctokit({ writeBudget, rateLimits }: ApiBudget) {
  const budgetAndTrack = (octokit: HookedOctokit, options: { auth?: { installationId?: number | string } }) => {
    const installationId = options.auth?.installationId;
    if (installationId === undefined) return {};
    const id = String(installationId);
    octokit.hook.wrap("request", async (request, o) => {
      if (!isWrite(o.method, o.url)) return request(o);
      const priority: WritePriority = o.headers?.[PRIORITY_HEADER] === "intermediate" ? "intermediate" : "final";
      // Hooks hand the same options object down (a new one would be ignored): change it in place.
      const headers = (o.headers ??= {});
      delete headers[PRIORITY_HEADER];
      return writeBudget.key(id).schedule({ priority }, () => {
        headers[PREPAID_HEADER] = writeBudget.ticket();
        return request(o);
      });
    });
    octokit.hook.after("request", (res) => {
      const remaining = Number(res.headers["x-ratelimit-remaining"]);
      if (Number.isFinite(remaining)) rateLimits.record(id, remaining);
    });
    return {};
  };

  return ProbotOctokit.plugin(budgetAndTrack as never).defaults((options: Record<string, unknown>) => {
    const installationId = (options.auth as { installationId?: number | string } | undefined)?.installationId;
    const request = (options.request ?? {}) as { fetch?: typeof fetch };
    return {
      ...options,
      ...(installationId === undefined
        ? {}
        : { request: { ...request, fetch: countingFetch(writeBudget, String(installationId), request.fetch ?? globalThis.fetch) } }),
      throttle: {
        ...(options.throttle as object),
        write: PASS_THROUGH,
        onRateLimit: (retryAfter: number, o: ThrottleOptions, octokit: WithLog, retryCount: number) => {
          octokit.log.warn(`rate limit on ${o.method} ${o.url}; retry ${retryCount + 1} in ${retryAfter}s`);
          return retryCount < RATE_LIMIT_RETRIES;
        },
        onSecondaryRateLimit: (retryAfter: number, o: ThrottleOptions, octokit: WithLog, retryCount: number) => {
          octokit.log.warn(`secondary rate limit on ${o.method} ${o.url}; retry ${retryCount + 1} in ${retryAfter}s`);
          return retryCount < RATE_LIMIT_RETRIES;
        },
      },
    };
  });
}

/** The Octokit class `yaciOctokit` builds (what Probot takes as its `Octokit` option). */
export type YaciOctokit = ReturnType<typeof yaciOctokit>;

/** The slice of the app-authenticated (JWT) Octokit the checkout-token minting calls. */
export interface AppOctokit {
  rest: { apps: Pick<Octokit["rest"]["apps"], "createInstallationAccessToken"> };
}

/** A checkout token is reused while at least this long is left of it (GitHub's last an hour). */
export const CHECKOUT_TOKEN_MIN_REMAINING_MS = 10 * 60_000;

/**
 * A token for checking out one repository: scoped to that repository alone, `contents: read`
 * alone, so a job (or a log) that leaks it exposes nothing else. One token per repository is
 * minted and shared by its jobs (the jobs of a push ask at the same moment: they wait for the
 * one request) until less than `minRemainingMs` is left of it (`expires_at`); a failed mint is
 * not kept, the next job asks again.
 */
export function checkoutTokenSource(
  appOctokit: () => Promise<AppOctokit>,
  { minRemainingMs = CHECKOUT_TOKEN_MIN_REMAINING_MS, now = Date.now }: { minRemainingMs?: number; now?: () => number } = {},
) {
  const tokens = new Map<string, Promise<{ token: string; expiresAt: number }>>();
  const mint = async (spec: RunSpec) => {
    const octokit = await appOctokit();
    const { data } = await octokit.rest.apps.createInstallationAccessToken({
      installation_id: spec.installationId,
      repositories: [spec.key.repo],
      permissions: { contents: "read" },
    });
    // Without a readable expiry the token is used once (as if it were about to expire).
    const expiresAt = Date.parse(data.expires_at ?? "");
    return { token: data.token, expiresAt: Number.isFinite(expiresAt) ? expiresAt : 0 };
  };
  return async (spec: RunSpec): Promise<string> => {
    const key = `${spec.installationId}/${spec.key.owner}/${spec.key.repo}`.toLowerCase();
    const cached = tokens.get(key);
    if (cached) {
      const t = await cached; // a mint in flight is shared, its failure too
      if (t.expiresAt - now() >= minRemainingMs) return t.token;
      if (tokens.get(key) === cached) tokens.delete(key);
    }
    // Jobs that ask while it is being minted share this request.
    let pending = tokens.get(key);
    if (!pending) {
      pending = mint(spec);
      tokens.set(key, pending);
      pending.catch(() => {
        if (tokens.get(key) === pending) tokens.delete(key);
      });
    }
    if (tokens.size > 1000) tokens.delete(tokens.keys().next().value!);
    return (await pending).token;
  };
}
