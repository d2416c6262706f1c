import type { Context, Probot } from "probot";
import { triggerFromPullRequest, triggerFromPush } from "../core/trigger.js";
import type { DeliveryLog } from "../runs/delivery-log.js";
import { acceptTrigger, type AcceptDeps } from "./accept-trigger.js";
import { handleComment } from "./comment-commands.js";
import { rerunJob, rerunSuite } from "./rerun.js";
import { CANCEL_ACTION } from "../core/check-update.js";

export interface HandlerDeps extends AcceptDeps {
  deliveries: DeliveryLog;
  /** Counts deliveries by event and outcome (metrics). */
  onDelivery?: (event: string, outcome: string) => void;
}

/**
 * Handles each delivery once (a redelivery, or a concurrent duplicate, does nothing), counts its
 * outcome, and lets a failure reach GitHub (500) so that the delivery can be retried.
 */
function once(deps: HandlerDeps, event: string, handle: (context: Context) => Promise<string>) {
  return async (context: Context) => {
    if (!deps.deliveries.begin(context.id)) {
      context.log.info({ delivery: context.id }, "delivery already handled");
      deps.onDelivery?.(event, "duplicate");
      return;
    }
    try {
      const outcome = await handle(context);
      deps.deliveries.done(context.id);
      deps.onDelivery?.(event, outcome);
    } catch (err) {
      deps.deliveries.abort(context.id);
      deps.onDelivery?.(event, "error");
      throw err;
    }
  };
}

export function registerHandlers(app: Probot, deps: HandlerDeps): void {
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
      const { check_run } = (c as Context<"check_run.rerequested">).payload;
      return rerunJob(deps.scheduler, check_run.external_id ?? "", c.log);
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
      if (p.requested_action?.identifier !== CANCEL_ACTION.identifier || !p.check_run.external_id) return "ignored";
      await deps.scheduler.cancel(p.check_run.external_id, `requested by @${p.sender.login}`);
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
        },
        c.octokit,
        deps,
        c.log,
      );
    }),
  );
}
