import { ProbotOctokit } from "probot";
import { WriteBudget } from "./write-budget.js";
import { rateLimits } from "./rate-limit-tracker.js";

/** How often a request that hit a rate limit is tried again before it fails. */
export const RATE_LIMIT_RETRIES = 5;

interface ThrottleOptions {
  method: string;
  url: string;
}
interface WithLog {
  log: { warn(msg: string): void };
}

/** Shared by every Octokit of the process; keyed by installation (Probot sets `throttle.id`). */
export const writeBudget = new WriteBudget();

/**
 * Probot's Octokit, with rate limits waited out instead of dropped (Probot 14's own throttle
 * options only log a secondary rate limit, 403 + retry-after, and fail the request), and with
 * each installation's writes limited by GitHub's real budget (80/min, 500/h, in bursts) instead
 * of the throttling plugin's fixed one request per second.
 */
const trackRateLimit = (octokit: { hook: { after(name: string, fn: (res: { headers: Record<string, unknown> }) => void): void } }, options: { auth?: { installationId?: number | string } }) => {
  const installationId = options.auth?.installationId;
  if (installationId === undefined) return {};
  octokit.hook.after("request", (res) => {
    const remaining = Number(res.headers["x-ratelimit-remaining"]);
    if (Number.isFinite(remaining)) rateLimits.record(String(installationId), remaining);
  });
  return {};
};

export const YaciOctokit = ProbotOctokit.plugin(trackRateLimit as never).defaults((options: Record<string, unknown>) => ({
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
