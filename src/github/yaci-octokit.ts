import { ProbotOctokit } from "probot";

/** How often a request that hit a rate limit is tried again before it fails. */
export const RATE_LIMIT_RETRIES = 5;

interface ThrottleOptions {
  method: string;
  url: string;
}
interface WithLog {
  log: { warn(msg: string): void };
}

/**
 * Probot's Octokit, with rate limits waited out instead of dropped: Probot 14's own throttle
 * options only log a secondary rate limit (403 + retry-after) and fail the request.
 */
export const YaciOctokit = ProbotOctokit.defaults((options: Record<string, unknown>) => ({
  ...options,
  throttle: {
    ...(options.throttle as object),
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
