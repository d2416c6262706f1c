import type { Octokit } from "@octokit/rest";
import { parseCommands, type Command } from "../core/parse-commands.js";
import { triggerFromPull, type Trigger } from "../core/trigger.js";
import type { Logger } from "../logger.js";
import { APPROVAL_CHECK_NAME } from "../runs/scheduler.js";
import { acceptTrigger, canWrite, type AcceptDeps, type AcceptOctokit } from "./accept-trigger.js";

export type CommentOctokit = AcceptOctokit & {
  rest: {
    pulls: Pick<Octokit["rest"]["pulls"], "get">;
    issues: Pick<Octokit["rest"]["issues"], "createComment">;
    reactions: Pick<Octokit["rest"]["reactions"], "createForIssueComment">;
  };
};

export interface CommentEvent {
  installationId: number;
  owner: string;
  repo: string;
  prNumber: number;
  commentId: number;
  body: string;
  author: string;
  authorIsBot: boolean;
  isPullRequest: boolean;
}

const HELP = "YACI understands `/retest` (failed jobs), `/retest <job>`, `/cancel` and `/ok-to-test` (approve a fork's current commit).";

/** Carries out one command for the pull request's head commit; returns a line to reply, if any. */
async function run(c: Exclude<Command, { unknown: string }>, t: Trigger, e: CommentEvent, octokit: CommentOctokit, deps: AcceptDeps, log: Logger): Promise<string | undefined> {
  const { scheduler } = deps;
  const sha = t.sha.slice(0, 7);
  const runs = scheduler.latestRuns(t.owner, t.repo, t.sha).filter((r) => !r.spec.notice);
  switch (c.name) {
    case "retest": {
      if (runs.length === 0 && !c.arg) {
        if (t.fromFork) return `Nothing ran for ${sha} yet: a maintainer approves a fork's commit with \`/ok-to-test\`.`;
        await acceptTrigger(t, octokit, deps, log);
        return undefined;
      }
      const targets = c.arg
        ? runs.filter((r) => r.spec.key.job === c.arg)
        : runs.filter((r) => r.phase === "completed" && r.conclusion !== "success");
      if (c.arg && targets.length === 0) {
        return `No job named \`${c.arg}\` ran for ${sha}. Jobs: ${runs.map((r) => `\`${r.spec.key.job}\``).join(", ") || "none"}.`;
      }
      if (targets.length === 0) return `Nothing to retest: no job of ${sha} failed.`;
      const busy = targets.filter((r) => !scheduler.rerun(r.spec.id)).map((r) => `\`${r.spec.key.job}\``);
      return busy.length > 0 ? `Still running, not restarted: ${busy.join(", ")}.` : undefined;
    }
    case "cancel": {
      const running = runs.filter((r) => r.phase !== "completed");
      if (running.length === 0) return `Nothing to cancel: no job of ${sha} is running.`;
      await Promise.all(running.map((r) => scheduler.cancel(r.spec.id, `requested by @${e.author}`)));
      return undefined;
    }
    case "ok-to-test": {
      if (!t.fromFork) return `\`/ok-to-test\` is only needed for pull requests from forks; this one runs on its own.`;
      await acceptTrigger(t, octokit, deps, log, true);
      const notice = scheduler.latestRuns(t.owner, t.repo, t.sha).find((r) => r.spec.key.job === APPROVAL_CHECK_NAME);
      if (notice) scheduler.resolveNotice(notice.spec.id, "success", `Approved by @${e.author}`);
      log.info({ pr: e.prNumber, sha: t.sha, by: e.author }, "fork commit approved");
      return undefined;
    }
  }
}

/**
 * Pull-request comment commands from people with write access. Every command is acknowledged
 * (a 👍 reaction); an unknown or unauthorised one gets a short reply, never silence.
 */
export async function handleComment(e: CommentEvent, octokit: CommentOctokit, deps: AcceptDeps, log: Logger): Promise<string> {
  if (!e.isPullRequest || e.authorIsBot) return "ignored";
  const commands = parseCommands(e.body);
  if (commands.length === 0) return "no-command";
  const { owner, repo } = e;
  const reply = (body: string) => octokit.rest.issues.createComment({ owner, repo, issue_number: e.prNumber, body });
  if (!(await canWrite(octokit, owner, repo, e.author))) {
    const names = commands.map((c) => `\`/${"unknown" in c ? c.unknown : c.name}\``).join(", ");
    await reply(`@${e.author}: only people with write access to this repository can use ${names}.`);
    return "unauthorised";
  }
  const { data: pr } = await octokit.rest.pulls.get({ owner, repo, pull_number: e.prNumber });
  const t = triggerFromPull(e.installationId, owner, repo, e.prNumber, pr, e.author);
  const lines: string[] = [];
  for (const c of commands) {
    const line = "unknown" in c ? `Unknown command \`/${c.unknown}\`. ${HELP}` : await run(c, t, e, octokit, deps, log);
    if (line) lines.push(line);
  }
  try {
    await octokit.rest.reactions.createForIssueComment({ owner, repo, comment_id: e.commentId, content: "+1" });
  } catch (err) {
    log.info({ err: (err as Error).message }, "could not react to the comment");
  }
  if (lines.length > 0) await reply(`@${e.author}: ${lines.join("\n")}`);
  return lines.length > 0 ? "replied" : "done";
}
