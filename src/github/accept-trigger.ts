import { parseConfig } from "../config/parse-config.js";
import { formatConfigErrors } from "../config/format-config-errors.js";
import { planJobs } from "../core/plan-jobs.js";
import { isSkip, type Trigger, type TriggerResult } from "../core/trigger.js";
import { APPROVAL_CHECK_NAME, CONFIG_CHECK_NAME, type Scheduler } from "../runs/scheduler.js";
import { approvalNotice } from "./approval-notice.js";
import { canWrite, type PermissionOctokit } from "./permissions.js";
import { readConfig, type ContentsOctokit, CONFIG_PATH } from "./read-config.js";

export interface AcceptDeps {
  scheduler: Scheduler;
  /** Where a fork's jobs come from: its base branch (default, safe) or its own head commit. */
  forkConfig: "base" | "head";
}

export interface Log {
  info(obj: object, msg: string): void;
}

export type AcceptOctokit = ContentsOctokit & PermissionOctokit;

/**
 * Reads `.yaci.yml` and hands the commit's jobs to the scheduler; cancels what the commit
 * supersedes. Returns as soon as the runs are recorded (jobs run in the background).
 * A fork's pull request from someone without write access runs nothing until `approved`.
 */
export async function acceptTrigger(
  result: TriggerResult,
  octokit: AcceptOctokit,
  deps: AcceptDeps,
  log: Log,
  approved = false,
): Promise<string> {
  if (isSkip(result)) {
    log.info({ reason: result.skip }, "event skipped");
    return "skipped";
  }
  const t: Trigger = result;
  if (t.fromFork && !approved && !(await canWrite(octokit, t.owner, t.repo, t.prAuthor))) {
    deps.scheduler.supersede(t);
    deps.scheduler.acceptNotice(t, APPROVAL_CHECK_NAME, approvalNotice(t), "action_required");
    log.info({ pr: t.prNumber, author: t.prAuthor, sha: t.sha }, "fork pull request: waiting for /ok-to-test");
    return "needs-approval";
  }
  // A fork's jobs come from the base branch unless the operator trusts forks' own config.
  const configRef = t.fromFork && deps.forkConfig === "base" ? t.branch : t.sha;
  const text = await readConfig(octokit, t.owner, t.repo, configRef);
  if (text === null) {
    log.info({ repo: `${t.owner}/${t.repo}`, ref: configRef }, `no ${CONFIG_PATH}: nothing to run`);
    return "no-config";
  }
  const parsed = parseConfig(text);
  if (!parsed.ok) {
    deps.scheduler.supersede(t);
    deps.scheduler.acceptNotice(t, CONFIG_CHECK_NAME, { title: "Invalid .yaci.yml", summary: formatConfigErrors(parsed.errors, text) }, "failure");
    return "config-error";
  }
  if (parsed.config.cancelSuperseded) {
    const cancelled = deps.scheduler.supersede(t);
    if (cancelled.length > 0) log.info({ cancelled, by: t.sha }, "superseded runs cancelled");
  }
  const runs = deps.scheduler.accept(t, planJobs(t, parsed.config));
  log.info({ repo: `${t.owner}/${t.repo}`, sha: t.sha, runs: runs.map((r) => r.spec.id) }, `accepted ${runs.length} job(s)`);
  return runs.length > 0 ? "accepted" : "duplicate-or-filtered";
}
