/**
 * Branch filters of `on.push.branches` / `on.pull_request.branches`: glob patterns where `*`
 * matches any run of characters except `/` and `**` matches anything (including `/`). Every other
 * character is literal. Patterns match the whole branch name (`main`, not `refs/heads/main`).
 */
import type { EventFilter, JobConfig, YaciConfig } from "./yaci-config.js";

const cache = new Map<string, RegExp>();

function compile(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (!re) {
    let src = "";
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern[i]!;
      if (c === "*") {
        if (pattern[i + 1] === "*") {
          src += ".*";
          while (pattern[i + 1] === "*") i++;
        } else {
          src += "[^/]*";
        }
      } else {
        src += c.replace(/[.+?^${}()|[\]\\/-]/g, "\\$&");
      }
    }
    re = new RegExp(`^${src}$`, "s");
    if (cache.size > 1000) cache.clear();
    cache.set(pattern, re);
  }
  return re;
}

/** Whether `branch` (a short name such as `release/1.2`) matches the glob `pattern`. */
export function branchMatches(pattern: string, branch: string): boolean {
  return compile(pattern).test(branch);
}

/**
 * Whether an event with this filter runs for `branch` (for `push` the pushed branch; for
 * `pull_request` the pull request's base branch, as on GitHub Actions).
 * `filter` undefined means the event is not listed under `on:`, so it runs nothing;
 * a filter without `branches` runs on every branch.
 */
export function eventAllowsBranch(filter: EventFilter | undefined, branch: string): boolean {
  if (!filter) return false;
  if (!filter.branches) return true;
  const name = branch.startsWith("refs/heads/") ? branch.slice("refs/heads/".length) : branch;
  return filter.branches.some((p) => branchMatches(p, name));
}

/** The jobs an event on a branch runs under the config's `on:` filters (all of them, or none). */
export function planJobs(trigger: { event: "push" | "pull_request"; branch: string }, config: YaciConfig): JobConfig[] {
  const filter = config.on[trigger.event];
  if (!filter) return [];
  return eventAllowsBranch(filter, trigger.branch) ? config.jobs : [];
}
