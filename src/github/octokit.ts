import type { Octokit } from "@octokit/rest";
import { ProbotOctokit } from "probot";
import type { RunSpec } from "../core/run.js";

/**
 * YACI's Octokit: Probot's, with rate limits waited out and each installation's writes kept within
 * GitHub's budget, plus the state that budget keeps (`WriteBudget`, `RateLimitTracker`). That state
 * is one per app, built by the composition root (deps.ts) and handed to `yaciOctokit`, which feeds
 * it; the reporter and the metrics read it. Nothing here is a module-level instance.
 */

/** GitHub's content-creation budget per installation: 80 requests a minute, 500 an hour. */
export const WRITE_WINDOWS = [
  { limit: 80, ms: 60_000 },
  { limit: 500, ms: 3_600_000 },
] as const;

interface Window {
  limit: number;
  ms: number;
}

/**
 * A per-installation limiter for mutating requests, in the shape `@octokit/plugin-throttling`
 * takes as its `write` group (`.key(id).schedule(options, fn)`): requests go out at once, in
 * bursts, as long as no sliding window holds more than its limit; past that they wait.
 * (The plugin's own write group spaces every request one second apart.)
 */
export class WriteBudget {
  private readonly sent = new Map<string, number[]>();
  private readonly waiting = new Map<string, Promise<void>>();

  constructor(
    private readonly windows: readonly Window[] = WRITE_WINDOWS,
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  /** How long until one more request fits (0 = now). */
  delayFor(id: string): number {
    const times = this.sent.get(id) ?? [];
    const t = this.now();
    let delay = 0;
    for (const w of this.windows) {
      const inWindow = times.filter((x) => x > t - w.ms);
      if (inWindow.length >= w.limit) delay = Math.max(delay, inWindow[inWindow.length - w.limit]! + w.ms - t + 1);
    }
    return delay;
  }

  private async acquire(id: string): Promise<void> {
    // One waiter at a time per installation keeps the order of requests.
    const prev = this.waiting.get(id) ?? Promise.resolve();
    const mine = prev.then(async () => {
      for (let d = this.delayFor(id); d > 0; d = this.delayFor(id)) await this.sleep(d);
      const maxMs = Math.max(...this.windows.map((w) => w.ms));
      const times = (this.sent.get(id) ?? []).filter((x) => x > this.now() - maxMs);
      times.push(this.now());
      this.sent.set(id, times);
    });
    this.waiting.set(id, mine);
    await mine;
    if (this.waiting.get(id) === mine) this.waiting.delete(id);
  }

  key(id: string) {
    return {
      schedule: async <T>(_options: object, fn: () => Promise<T>): Promise<T> => {
        await this.acquire(id);
        return fn();
      },
    };
  }
}

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
type HookedOctokit = { hook: { after(name: string, fn: (res: { headers: Record<string, unknown> }) => void): void } };

/**
 * Probot's Octokit class, with rate limits waited out instead of dropped (Probot 14's own throttle
 * options only log a secondary rate limit, 403 + retry-after, and fail the request), with each
 * installation's writes limited by GitHub's real budget (80/min, 500/h, in bursts: `writeBudget`)
 * instead of the throttling plugin's fixed one request per second, and with every response's
 * remaining rate limit recorded in `rateLimits`.
 */
export function yaciOctokit({ writeBudget, rateLimits }: ApiBudget) {
  const trackRateLimit = (octokit: HookedOctokit, options: { auth?: { installationId?: number | string } }) => {
    const installationId = options.auth?.installationId;
    if (installationId === undefined) return {};
    octokit.hook.after("request", (res) => {
      const remaining = Number(res.headers["x-ratelimit-remaining"]);
      if (Number.isFinite(remaining)) rateLimits.record(String(installationId), remaining);
    });
    return {};
  };

  return ProbotOctokit.plugin(trackRateLimit as never).defaults((options: Record<string, unknown>) => ({
    ...options,
    throttle: {
      ...(options.throttle as object),
      write: writeBudget,
      onRateLimit: (retryAfter: number, o: ThrottleOptions, octokit: WithLog, retryCount: number) => {
        octokit.log.warn(`rate limit on ${o.method} ${o.url}; retry ${retryCount + 1} in ${retryAfter}s`);
        return retryCount < RATE_LIMIT_RETRIES;
      },
      onSecondaryRateLimit: (retryAfter: number, o: ThrottleOptions, octokit: WithLog, retryCount: number) => {
        octokit.log.warn(`secondary rate limit on ${o.method} ${o.url}; retry ${retryCount + 1} in ${retryAfter}s`);
        return retryCount < RATE_LIMIT_RETRIES;
      },
    },
  }));
}

/** The Octokit class `yaciOctokit` builds (what Probot takes as its `Octokit` option). */
export type YaciOctokit = ReturnType<typeof yaciOctokit>;

/** The slice of the app-authenticated (JWT) Octokit the checkout-token minting calls. */
export interface AppOctokit {
  rest: { apps: Pick<Octokit["rest"]["apps"], "createInstallationAccessToken"> };
}

/**
 * A token for checking out one repository: scoped to that repository alone, `contents: read`
 * alone, so a job (or a log) that leaks it exposes nothing else.
 */
export function checkoutTokenSource(appOctokit: () => Promise<AppOctokit>) {
  return async (spec: RunSpec): Promise<string> => {
    const octokit = await appOctokit();
    const { data } = await octokit.rest.apps.createInstallationAccessToken({
      installation_id: spec.installationId,
      repositories: [spec.key.repo],
      permissions: { contents: "read" },
    });
    return data.token;
  };
}
