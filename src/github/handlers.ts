import type { Probot } from "probot";
import { parseConfig } from "../config/parse-config.js";
import { formatConfigErrors } from "../config/format-config-errors.js";
import { planJobs } from "../core/plan-jobs.js";
import { isSkip, triggerFromPullRequest, triggerFromPush, type Trigger, type TriggerResult } from "../core/trigger.js";
import type { Scheduler } from "../runs/scheduler.js";
import { readConfig, type ContentsOctokit, CONFIG_PATH } from "./read-config.js";

export interface HandlerDeps {
  scheduler: Scheduler;
  /** Counts deliveries by event and outcome (metrics). */
  onDelivery?: (event: string, outcome: string) => void;
}

interface Log {
  info(obj: object, msg: string): void;
}

/**
 * Reads `.yaci.yml` at the trigger's SHA and hands its jobs to the scheduler. Returns as soon as
 * the runs are recorded: jobs run, and check runs are written, in the background.
 */
export async function acceptTrigger(
  result: TriggerResult,
  octokit: ContentsOctokit,
  deps: HandlerDeps,
  log: Log,
): Promise<string> {
  if (isSkip(result)) {
    log.info({ reason: result.skip }, "event skipped");
    return "skipped";
  }
  const t: Trigger = result;
  if (t.fromFork) {
    // Never run a fork's code without a maintainer's approval.
    log.info({ pr: t.prNumber }, "fork pull request: nothing runs without approval");
    return "fork";
  }
  const text = await readConfig(octokit, t.owner, t.repo, t.sha);
  if (text === null) {
    log.info({ repo: `${t.owner}/${t.repo}`, sha: t.sha }, `no ${CONFIG_PATH}: nothing to run`);
    return "no-config";
  }
  const parsed = parseConfig(text);
  if (!parsed.ok) {
    deps.scheduler.acceptConfigError(t, formatConfigErrors(parsed.errors, text));
    return "config-error";
  }
  const runs = deps.scheduler.accept(t, planJobs(t, parsed.config));
  log.info({ repo: `${t.owner}/${t.repo}`, sha: t.sha, runs: runs.map((r) => r.spec.id) }, `accepted ${runs.length} job(s)`);
  return runs.length > 0 ? "accepted" : "duplicate-or-filtered";
}

/** Runs a handler and counts its outcome; a failure is counted as "error" and rethrown (GitHub sees a 500). */
async function counted(deps: HandlerDeps, event: string, handle: () => Promise<string>): Promise<void> {
  try {
    deps.onDelivery?.(event, await handle());
  } catch (err) {
    deps.onDelivery?.(event, "error");
    throw err;
  }
}

export function registerHandlers(app: Probot, deps: HandlerDeps): void {
  app.on("push", (context) =>
    counted(deps, "push", () => acceptTrigger(triggerFromPush(context.payload), context.octokit, deps, context.log)),
  );
  app.on(["pull_request.opened", "pull_request.synchronize", "pull_request.reopened"], (context) =>
    counted(deps, "pull_request", () => acceptTrigger(triggerFromPullRequest(context.payload), context.octokit, deps, context.log)),
  );
}
