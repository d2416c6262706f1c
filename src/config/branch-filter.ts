/**
 * Branch filters of `on.push.branches` / `on.pull_request.branches`: glob patterns where `*`
 * matches any run of characters except `/` and `**` matches anything (including `/`). Every other
 * character is literal. Patterns match the whole branch name (`main`, not `refs/heads/main`).
 *
 * Both the pattern and the branch name come from whoever pushes, so matching never backtracks:
 * it follows every position of the pattern at once (a Thompson NFA), in O(pattern × name) time
 * and O(pattern) memory, whatever the input (`*a*a*a…!` against `aaaa…` included).
 */
import type { EventFilter, JobConfig, YaciConfig } from "./yaci-config.js";

/** A compiled pattern: a literal character, `*` (within a segment) or `**` (anything). */
type Token = string | typeof STAR | typeof ANY;
const STAR = 1;
const ANY = 2;

function tokenize(pattern: string): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] !== "*") out.push(pattern[i]!);
    else if (pattern[i + 1] === "*") {
      while (pattern[i + 1] === "*") i++;
      out.push(ANY);
    } else out.push(STAR);
  }
  return out;
}

/** Adds state `i` and every state reachable from it without reading a character. */
function enter(tokens: Token[], states: Uint8Array, i: number): void {
  while (i <= tokens.length && !states[i]) {
    states[i] = 1;
    if (i === tokens.length || typeof tokens[i] === "string") return;
    i++; // a star may match nothing
  }
}

/** Whether `branch` (a short name such as `release/1.2`) matches the glob `pattern`. */
export function branchMatches(pattern: string, branch: string): boolean {
  const tokens = tokenize(pattern);
  let states = new Uint8Array(tokens.length + 1);
  let next = new Uint8Array(tokens.length + 1);
  enter(tokens, states, 0);
  for (let k = 0; k < branch.length; k++) {
    const c = branch[k]!;
    next.fill(0);
    let any = false;
    for (let i = 0; i < tokens.length; i++) {
      if (!states[i]) continue;
      const t = tokens[i]!;
      if (t === ANY || (t === STAR && c !== "/")) {
        enter(tokens, next, i);
        any = true;
      } else if (t === c) {
        enter(tokens, next, i + 1);
        any = true;
      }
    }
    if (!any) return false;
    [states, next] = [next, states];
  }
  return states[tokens.length] === 1;
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
