import type { Octokit } from "@octokit/rest";
import type { CheckRunUpdate } from "../core/check-update.js";
import type { CheckRunTarget, CheckRunWriter, CommitStatus } from "../runs/check-run-writer.js";
import { toCheckRunParams } from "./to-octokit.js";

/** The slice of an installation Octokit this adapter calls. */
export interface ChecksOctokit {
  rest: {
    checks: Pick<Octokit["rest"]["checks"], "create" | "update" | "listForRef">;
    repos: Pick<Octokit["rest"]["repos"], "createCommitStatus">;
  };
}

/** The only place that calls GitHub's check-run endpoints. */
export class OctokitCheckRuns implements CheckRunWriter {
  constructor(private readonly octokitFor: (installationId: number) => Promise<ChecksOctokit>) {}

  async create(t: CheckRunTarget, u: CheckRunUpdate): Promise<number> {
    const octokit = await this.octokitFor(t.installationId);
    const { data } = await octokit.rest.checks.create({ owner: t.owner, repo: t.repo, ...toCheckRunParams(u) });
    return data.id;
  }

  async update(t: CheckRunTarget, checkRunId: number, u: CheckRunUpdate): Promise<void> {
    const octokit = await this.octokitFor(t.installationId);
    const { head_sha: _sha, ...params } = toCheckRunParams(u);
    await octokit.rest.checks.update({ owner: t.owner, repo: t.repo, check_run_id: checkRunId, ...params });
  }

  async setStatus(t: CheckRunTarget, sha: string, s: CommitStatus): Promise<void> {
    const octokit = await this.octokitFor(t.installationId);
    await octokit.rest.repos.createCommitStatus({
      owner: t.owner,
      repo: t.repo,
      sha,
      state: s.state,
      context: s.context,
      description: s.description.length > 140 ? `${s.description.slice(0, 139)}…` : s.description,
      ...(s.targetUrl ? { target_url: s.targetUrl } : {}),
    });
  }

  async find(t: CheckRunTarget, sha: string, name: string, externalId: string): Promise<number | undefined> {
    const octokit = await this.octokitFor(t.installationId);
    const { data } = await octokit.rest.checks.listForRef({ owner: t.owner, repo: t.repo, ref: sha, check_name: name, filter: "all" });
    return data.check_runs.find((c) => c.external_id === externalId)?.id;
  }
}
