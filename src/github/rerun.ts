import { triggerFromPush } from "../core/trigger.js";
import type { Scheduler } from "../runs/scheduler.js";
import { acceptTrigger, type AcceptDeps, type AcceptOctokit, type Log } from "./accept-trigger.js";

/** GitHub's "Re-run" on one check run: that job again, as a new attempt. */
export function rerunJob(scheduler: Scheduler, externalId: string, log: Log): string {
  const next = scheduler.rerun(externalId);
  log.info({ runId: externalId, next: next?.spec.id }, next ? "re-run requested" : "re-run ignored (unknown or still running)");
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
export async function rerunSuite(p: SuitePayload, octokit: AcceptOctokit, deps: AcceptDeps, log: Log): Promise<string> {
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
  const started = runs.map((r) => deps.scheduler.rerun(r.spec.id)).filter(Boolean);
  log.info({ sha: p.check_suite.head_sha, rerun: started.length }, "re-run of the check suite");
  return started.length > 0 ? "rerun" : "ignored";
}
