import type { Octokit } from "@octokit/rest";
import { inlineCode } from "../config/messages.js";
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
  /** When the comment was written (ISO 8601): `/ok-to-test` approves what waited at that time. */
  createdAt?: string;
}

const HOUR_MS = 60 * 60 * 1000;

/**
 * Keys used at most once per window (an hour): which replies and permission lookups comments
 * may still cost, so that anyone's comment spam cannot spend the installation's 80 writes a
 * minute. In memory, per process; forgets keys older than the window.
 */
export class ReplyLimiter {
  private readonly used = new Map<string, number>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly windowMs = HOUR_MS,
  ) {}

  /** Whether `key` is free (not used within the window). */
  free(key: string): boolean {
    const at = this.used.get(key);
    return at === undefined || this.now() - at >= this.windowMs;
  }

  /** Uses `key` if it is free; returns whether it was. */
  take(key: string): boolean {
    if (!this.free(key)) return false;
    if (this.used.size >= 10_000) this.prune();
    this.used.set(key, this.now());
    return true;
  }

  private prune(): void {
    for (const [key, at] of this.used) if (this.now() - at >= this.windowMs) this.used.delete(key);
  }
}

export interface CommentDeps extends AcceptDeps {
  replies: ReplyLimiter;
}

const HELP =
  "YACI understands `/retest` (failed jobs), `/retest <job>`, `/cancel` and `/ok-to-test` (approve the fork commit that waited when you commented; `/ok-to-test <sha>` approves that commit).";

/** `/ok-to-test [sha]`: approves a fork's commit that the maintainer saw, never a later push. */
async function approve(arg: string | undefined, t: Trigger, e: CommentEvent, octokit: CommentOctokit, deps: AcceptDeps, log: Logger): Promise<string> {
  const { scheduler } = deps;
  if (!t.fromFork) return "`/ok-to-test` is only needed for pull requests from forks; this one runs on its own.";
  const notices = scheduler.noticesOf(t.owner, t.repo, e.prNumber, APPROVAL_CHECK_NAME);
  let sha: string;
  if (arg) {
    const want = arg.toLowerCase();
    if (!/^[0-9a-f]{7,40}$/.test(want)) return `\`/ok-to-test <sha>\` takes a commit SHA (7 to 40 hex characters), got ${inlineCode(arg.slice(0, 40))}.`;
    const known = [...new Set([...notices.map((n) => n.spec.key.sha), t.sha])].filter((s) => s.toLowerCase().startsWith(want));
    if (known.length === 0) return `No commit ${inlineCode(want)} of this pull request is waiting for approval. Its head is \`${t.sha}\`.`;
    if (known.length > 1) return `${inlineCode(want)} names several commits of this pull request: give more characters.`;
    sha = known[0]!;
  } else {
    // The newest commit that was waiting when the comment was written: not a push that came after.
    const written = e.createdAt ? Date.parse(e.createdAt) : NaN;
    const waiting = notices
      .filter((n) => n.conclusion === "action_required" && !(Date.parse(n.createdAt) > written))
      .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
    if (waiting.length === 0) {
      return `No commit of this pull request was waiting for approval when you commented. To approve one, comment \`/ok-to-test <sha>\` (the head is \`${t.sha}\`).`;
    }
    sha = waiting[0]!.spec.key.sha;
  }
  await acceptTrigger({ ...t, sha }, octokit, deps, log, true);
  const notice = scheduler.latestRuns(t.owner, t.repo, sha).find((r) => r.spec.key.job === APPROVAL_CHECK_NAME);
  if (notice) scheduler.resolveNotice(notice.spec.id, "success", `Approved by @${e.author}`);
  log.info({ pr: e.prNumber, sha, head: t.sha, by: e.author }, "fork commit approved");
  const later = sha === t.sha ? "" : ` The pull request's head is now \`${t.sha.slice(0, 7)}\`: it needs its own \`/ok-to-test\`.`;
  return `Approved \`${sha}\` for testing.${later}`;
}

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
        const jobs = runs.slice(0, 20).map((r) => `\`${r.spec.key.job}\``).join(", ") || "none";
        return `No job named ${inlineCode(c.arg)} ran for ${sha}. Jobs: ${jobs}${runs.length > 20 ? ", …" : ""}.`;
      }
      if (targets.length === 0) return `Nothing to retest: no job of ${sha} failed.`;
      // `/retest job`: that job alone, with the jobs its failure skipped; `/retest`: every job that did
      // not succeed (the skipped ones wait again for what they need).
      const again = new Set(
        (c.arg ? targets.map((r) => scheduler.rerunWithDependents(r.spec.id)) : scheduler.rerunMany(targets.map((r) => r.spec.id))).flatMap((r) => (r ? [r.spec.key.job] : [])),
      );
      const busy = targets.filter((r) => !again.has(r.spec.key.job)).map((r) => `\`${r.spec.key.job}\``);
      return busy.length > 0 ? `Still running, not restarted: ${busy.join(", ")}.` : undefined;
    }
    case "cancel": {
      const running = runs.filter((r) => r.phase !== "completed");
      if (running.length === 0) return `Nothing to cancel: no job of ${sha} is running.`;
      await Promise.all(running.map((r) => scheduler.cancel(r.spec.id, `requested by @${e.author}`)));
      return undefined;
    }
    case "ok-to-test":
      return approve(c.arg, t, e, octokit, deps, log);
  }
}

/**
 * Pull-request comment commands (the first 10 command lines of a comment) from people with write
 * access. What a comment may cost is bounded, whoever writes it:
 * - a comment with only unknown commands gets one short help reply per pull request per hour,
 *   and only when its author has write access; their access is looked up at most once per user
 *   per pull request per hour for such comments;
 * - a known command from someone without write access gets one refusal per user per pull
 *   request per hour (the access lookup is needed for every known command: access can change);
 * - every command that runs is acknowledged with a 👍 reaction; replies quote command names only.
 */
export async function handleComment(e: CommentEvent, octokit: CommentOctokit, deps: CommentDeps, log: Logger): Promise<string> {
  if (!e.isPullRequest || e.authorIsBot) return "ignored";
  const commands = parseCommands(e.body);
  if (commands.length === 0) return "no-command";
  const { owner, repo, author } = e;
  const pr = `${owner}/${repo}#${e.prNumber}`.toLowerCase();
  const user = author.toLowerCase();
  const reply = (body: string) => octokit.rest.issues.createComment({ owner, repo, issue_number: e.prNumber, body });
  // The same command twice does the same thing twice: once is enough.
  const known = [...new Map(commands.filter((c): c is Exclude<Command, { unknown: string }> => !("unknown" in c)).map((c) => [`${c.name} ${c.arg ?? ""}`, c])).values()];
  const unknown = commands.find((c): c is { unknown: string } => "unknown" in c);
  const help = unknown ? `Unknown command ${inlineCode(`/${unknown.unknown}`)}. ${HELP}` : undefined;

  if (known.length === 0) {
    if (!deps.replies.free(`help ${pr}`) || !deps.replies.take(`lookup ${pr} ${user}`)) return "unknown-command-quiet";
    if (!(await canWrite(octokit, owner, repo, author))) return "unknown-command-ignored";
    deps.replies.take(`help ${pr}`);
    await reply(`@${author}: ${help}`);
    return "replied";
  }
  if (!(await canWrite(octokit, owner, repo, author))) {
    if (!deps.replies.take(`refused ${pr} ${user}`)) return "unauthorised-quiet";
    const names = [...new Set(known.map((c) => `\`/${c.name}\``))].join(", ");
    await reply(`@${author}: only people with write access to this repository can use ${names}.`);
    return "unauthorised";
  }
  const { data: pull } = await octokit.rest.pulls.get({ owner, repo, pull_number: e.prNumber });
  const t = triggerFromPull(e.installationId, owner, repo, e.prNumber, pull, author);
  const lines: string[] = [];
  for (const c of known) {
    const line = await run(c, t, e, octokit, deps, log);
    if (line) lines.push(line);
  }
  if (help && deps.replies.take(`help ${pr}`)) lines.push(help);
  try {
    await octokit.rest.reactions.createForIssueComment({ owner, repo, comment_id: e.commentId, content: "+1" });
  } catch (err) {
    log.info({ err: (err as Error).message }, "could not react to the comment");
  }
  if (lines.length > 0) await reply(`@${author}: ${lines.join("\n")}`);
  return lines.length > 0 ? "replied" : "done";
}
