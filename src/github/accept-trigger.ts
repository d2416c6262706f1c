import type { Octokit } from "@octokit/rest";
import { CONFIG_LIMITS, fileTooLarge } from "../config/config-limits.js";
import { parseConfig } from "../config/parse-config.js";
import type { ParseResult } from "../config/yaci-config.js";
import { formatConfigErrors } from "../config/format-config-errors.js";
import { planJobs } from "../config/branch-filter.js";
import type { Notice } from "../core/run.js";
import { isSkip, type Trigger, type TriggerResult } from "../core/trigger.js";
import { httpStatusOf } from "../http-status.js";
import type { Logger } from "../logger.js";
import { APPROVAL_CHECK_NAME, CONFIG_CHECK_NAME, type Scheduler } from "../runs/scheduler.js";

const CONFIG_PATH = ".yaci.yml";

export interface AcceptDeps {
  scheduler: Scheduler;
  /** Where a fork's jobs come from: its base branch (default, safe) or its own head commit. */
  forkConfig: "base" | "head";
}

/** The slice of an installation Octokit that reads the config. */
export interface ContentsOctokit {
  rest: { repos: Pick<Octokit["rest"]["repos"], "getContent"> };
}

/** The slice of an installation Octokit that checks a user's access. */
export interface PermissionOctokit {
  rest: { repos: Pick<Octokit["rest"]["repos"], "getCollaboratorPermissionLevel"> };
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
  log: Logger,
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
  const file = await readConfig(octokit, t.owner, t.repo, configRef);
  if (file === null) {
    log.info({ repo: `${t.owner}/${t.repo}`, ref: configRef }, `no ${CONFIG_PATH}: nothing to run`);
    return "no-config";
  }
  // Past 1 MB GitHub sends no content; such a file is over the limit anyway.
  const parsed: ParseResult = "tooLarge" in file ? { ok: false, errors: [fileTooLarge(file.tooLarge)] } : parseConfig(file.bytes);
  if (!parsed.ok) {
    const text = "bytes" in file && file.bytes.length <= CONFIG_LIMITS.fileBytes ? file.bytes.toString("utf8") : "";
    const summary = formatConfigErrors(parsed.errors, text, parsed.omitted ? { omitted: parsed.omitted } : {});
    deps.scheduler.supersede(t);
    deps.scheduler.acceptNotice(t, CONFIG_CHECK_NAME, { title: "Invalid .yaci.yml", summary }, "failure");
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

/**
 * `.yaci.yml` at exactly `sha` as bytes, its size when GitHub sends no content (over 1 MB:
 * `encoding: "none"`), or null when the repository has none (then YACI does nothing).
 */
async function readConfig(octokit: ContentsOctokit, owner: string, repo: string, sha: string): Promise<{ bytes: Buffer } | { tooLarge: number } | null> {
  try {
    const { data } = await octokit.rest.repos.getContent({ owner, repo, path: CONFIG_PATH, ref: sha });
    const file = data as { type?: string; content?: string; encoding?: string; size?: number };
    if (Array.isArray(data) || file.type !== "file" || typeof file.content !== "string") return null;
    if (file.encoding !== "base64" || (typeof file.size === "number" && file.size > CONFIG_LIMITS.fileBytes)) {
      return { tooLarge: typeof file.size === "number" ? file.size : Buffer.byteLength(file.content) };
    }
    return { bytes: Buffer.from(file.content, "base64") };
  } catch (err) {
    if (httpStatusOf(err) === 404) return null;
    throw err;
  }
}

/** Roles that may run commands and approve forks: write access or more. */
const WRITERS = new Set(["admin", "maintain", "write"]);

/** Does `user` have write access to the repository (as collaborator, team or org member)? */
export async function canWrite(octokit: PermissionOctokit, owner: string, repo: string, user: string | undefined): Promise<boolean> {
  if (!user) return false;
  try {
    const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({ owner, repo, username: user });
    return WRITERS.has(data.permission) || WRITERS.has(data.role_name);
  } catch (err) {
    if (httpStatusOf(err) === 404) return false; // not a collaborator at all
    throw err;
  }
}

/** What a fork's pull request shows until a maintainer approves its head commit. */
function approvalNotice(t: Trigger): Notice {
  const sha = t.sha.slice(0, 7);
  return {
    title: `Waiting for approval to test ${sha}`,
    summary:
      `This pull request comes from a fork${t.prAuthor ? `, opened by @${t.prAuthor}` : ""}, who does not have write ` +
      `access to this repository. YACI runs nothing from a fork until a maintainer approves it.\n\n` +
      `**To run the jobs for commit \`${t.sha}\`**, a maintainer (write access) comments \`/ok-to-test\` on the ` +
      `pull request (or \`/ok-to-test ${sha}\` to name this commit). The approval covers exactly this commit: a later ` +
      `push needs a new \`/ok-to-test\`.\n\n` +
      `The jobs come from the base branch's \`.yaci.yml\`, and they receive nothing from YACI's environment.`,
    detailsUrl: t.prUrl,
  };
}
