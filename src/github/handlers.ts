import type { Context, Probot } from "probot";
import { CANCEL_ACTION } from "../core/check-update.js";
import { triggerFromPullRequest, triggerFromPush } from "../core/trigger.js";
import { runId } from "../core/run-id.js";
import type { Logger } from "../logger.js";
import { deliveryHash, type DeliveryLog } from "../runs/delivery-log.js";
import type { Scheduler } from "../runs/scheduler.js";
import { acceptTrigger, type AcceptDeps, type AcceptOctokit } from "./accept-trigger.js";
import { handleComment, ReplyLimiter } from "./comment-commands.js";

export interface HandlerDeps extends AcceptDeps {
  deliveries: DeliveryLog;
  /** Counts deliveries by event and outcome (metrics). */
  onDelivery?: (event: string, outcome: string) => void;
}

/**
 * Handles each delivery once (a redelivery, a replay under a new id, or a concurrent duplicate does
 * nothing), counts its outcome, and lets a failure reach the caller (the inbox worker), which
 * retries a transient one.
 */
function once(deps: HandlerDeps, event: string, handle: (context: Context) => Promise<string>) {
  return async (context: Context) => {
    // By id (a redelivery) and by content (the same signed body replayed under a new id).
    const hash = deliveryHash(context.name, context.payload);
    if (!deps.deliveries.begin(context.id, hash)) {
      context.log.info({ delivery: context.id }, "delivery already handled");
      deps.onDelivery?.(event, "duplicate");
      return;
    }
    try {
      const outcome = await handle(context);
      deps.deliveries.done(context.id, hash);
      deps.onDelivery?.(event, outcome);
    } catch (err) {
      deps.deliveries.abort(context.id, hash);
      deps.onDelivery?.(event, "error");
      throw err;
    }
  };
}

interface CheckRunPayload {
  check_run: { external_id?: string | null; head_sha: string };
  repository: { name: string; owner: { login: string } };
}

/**
 * The run a check-run event names: its `external_id` must be a run (any attempt) YACI made for
 * that very repository and head SHA. Anything else (another repository's id, a forged or stale
 * payload) names nothing.
 */
function namedRun(scheduler: Scheduler, p: CheckRunPayload): string | undefined {
  const id = p.check_run.external_id;
  if (!id) return undefined;
  for (const r of scheduler.latestRuns(p.repository.owner.login, p.repository.name, p.check_run.head_sha)) {
    for (let attempt = 1; attempt <= r.spec.attempt; attempt++) if (runId(r.spec.key, attempt) === id) return id;
  }
  return undefined;
}

/** GitHub's "Re-run" on one check run: that job again, as a new attempt. */
function rerunJob(scheduler: Scheduler, p: CheckRunPayload, log: Logger): string {
  const id = namedRun(scheduler, p);
  if (!id) {
    log.info({ externalId: p.check_run.external_id, sha: p.check_run.head_sha }, "re-run ignored: not a run of this repository and commit");
    return "ignored";
  }
  // That job alone (what it needs already ran), with the jobs its failure skipped.
  const next = scheduler.rerunWithDependents(id);
  log.info({ runId: id, next: next?.spec.id }, next ? "re-run requested" : "re-run ignored (still running)");
  return next ? "rerun" : "ignored";
}

interface SuitePayload {
  check_suite: {
    head_sha: string;
    head_branch: string | null;
    pull_requests?: { head: { repo: { id: number } }; base: { repo: { id: number } } }[];
  };
  repository: { name: string; owner: { login: string } };
  installation?: { id: number };
  sender: { login: string };
}

/**
 * GitHub's "Re-run all checks": every job of that commit again. A commit YACI never ran (it was
 * down, say) is run from its `.yaci.yml` as if pushed.
 */
async function rerunSuite(p: SuitePayload, octokit: AcceptOctokit, deps: AcceptDeps, log: Logger): Promise<string> {
  const { owner, repo } = { owner: p.repository.owner.login, repo: p.repository.name };
  const all = deps.scheduler.latestRuns(owner, repo, p.check_suite.head_sha);
  const runs = all.filter((r) => !r.spec.notice);
  if (all.length === 0) {
    // Never a way around fork approval: a commit of a fork's pull request is not run from here.
    const fromFork = (p.check_suite.pull_requests ?? []).some((pr) => pr.head.repo.id !== pr.base.repo.id);
    if (!p.check_suite.head_branch || !p.installation || fromFork) return "ignored";
    const t = triggerFromPush({
      ref: `refs/heads/${p.check_suite.head_branch}`,
      after: p.check_suite.head_sha,
      repository: p.repository,
      installation: p.installation,
      sender: p.sender,
    });
    return acceptTrigger(t, octokit, deps, log);
  }
  // The whole pipeline again: each job waits for what it needs, as in the first run.
  const started = deps.scheduler.rerunMany(runs.map((r) => r.spec.id));
  log.info({ sha: p.check_suite.head_sha, rerun: started.length }, "re-run of the check suite");
  return started.length > 0 ? "rerun" : "ignored";
}

/** Push, pull-request, re-run, cancel-button and comment events → the scheduler, each delivery once. */
export function registerHandlers(app: Probot, deps: HandlerDeps): void {
  // What comments may cost in replies and lookups, per pull request and user (see handleComment).
  const replies = new ReplyLimiter();
  app.on(
    "push",
    once(deps, "push", (c) => acceptTrigger(triggerFromPush((c as Context<"push">).payload), c.octokit, deps, c.log)),
  );
  app.on(
    ["pull_request.opened", "pull_request.synchronize", "pull_request.reopened"],
    once(deps, "pull_request", (c) =>
      acceptTrigger(triggerFromPullRequest((c as Context<"pull_request">).payload), c.octokit, deps, c.log),
    ),
  );
  app.on(
    "check_run.rerequested",
    once(deps, "check_run.rerequested", async (c) => {
      return rerunJob(deps.scheduler, (c as Context<"check_run.rerequested">).payload, c.log);
    }),
  );
  app.on(
    "check_suite.rerequested",
    once(deps, "check_suite.rerequested", async (c) => {
      const p = (c as Context<"check_suite.rerequested">).payload;
      return rerunSuite(p, c.octokit, deps, c.log);
    }),
  );
  app.on(
    "check_run.requested_action",
    once(deps, "check_run.requested_action", async (c) => {
      const p = (c as Context<"check_run.requested_action">).payload;
      const id = namedRun(deps.scheduler, p);
      if (p.requested_action?.identifier !== CANCEL_ACTION.identifier || !id) return "ignored";
      await deps.scheduler.cancel(id, `requested by @${p.sender.login}`);
      return "cancelled";
    }),
  );
  app.on(
    "issue_comment.created",
    once(deps, "issue_comment", (c) => {
      const p = (c as Context<"issue_comment.created">).payload;
      return handleComment(
        {
          installationId: p.installation!.id,
          owner: p.repository.owner.login,
          repo: p.repository.name,
          prNumber: p.issue.number,
          commentId: p.comment.id,
          body: p.comment.body,
          author: p.comment.user?.login ?? p.sender.login,
          authorIsBot: p.sender.type === "Bot" || p.comment.user?.type === "Bot",
          isPullRequest: !!p.issue.pull_request,
          createdAt: p.comment.created_at,
        },
        c.octokit,
        { ...deps, replies },
        c.log,
      );
    }),
  );
}
