import type { Octokit } from "@octokit/rest";
import type { CheckRunUpdate } from "../core/check-update.js";
import type { Annotation } from "../logs/annotations.js";
import { GITHUB_OUTPUT_LIMIT } from "../logs/excerpt.js";
import type { CheckRunTarget, CheckRunWriter, CommitStatus } from "../runs/reporter.js";
import { PRIORITY_HEADER } from "./octokit.js";

/**
 * A queued or in-progress state is an intermediate write (see `WritePriority`): with the
 * installation's share for those used up it is not sent (`WriteSkipped`); the final one is.
 */
function priority(final: boolean): { headers?: Record<string, string> } {
  return final ? {} : { headers: { [PRIORITY_HEADER]: "intermediate" } };
}

/** The slice of an installation Octokit this adapter calls. */
export interface ChecksOctokit {
  rest: {
    checks: Pick<Octokit["rest"]["checks"], "create" | "update" | "listForRef">;
    repos: Pick<Octokit["rest"]["repos"], "createCommitStatus">;
  };
}

/** Cuts Markdown to GitHub's limit (keeping its start: summaries lead with what matters). */
function clip(text: string, limit = GITHUB_OUTPUT_LIMIT): string {
  if (text.length <= limit) return text;
  const note = "\n\n… (cut to fit GitHub's limit)";
  return text.slice(0, limit - note.length) + note;
}

/** The body of `POST/PATCH /repos/{owner}/{repo}/check-runs`. */
function toCheckRunParams(u: CheckRunUpdate) {
  const output: { title: string; summary: string; text?: string; annotations?: Annotation[] } = {
    title: clip(u.title, 1000),
    summary: clip(u.summary),
  };
  if (u.text !== undefined) output.text = clip(u.text);
  if (u.annotations?.length) output.annotations = u.annotations;
  const params: {
    name: string;
    head_sha: string;
    external_id: string;
    status: "queued" | "in_progress" | "completed";
    conclusion?: "success" | "failure" | "timed_out" | "cancelled" | "action_required" | "neutral" | "skipped";
    started_at?: string;
    completed_at?: string;
    details_url?: string;
    output: typeof output;
    actions?: { label: string; description: string; identifier: string }[];
  } = { name: u.name, head_sha: u.headSha, external_id: u.externalId, status: u.status, output };
  if (u.conclusion) params.conclusion = u.conclusion;
  if (u.startedAt) params.started_at = u.startedAt;
  if (u.completedAt) params.completed_at = u.completedAt;
  if (u.detailsUrl) params.details_url = u.detailsUrl;
  // An empty list removes buttons shown earlier (e.g. "Cancel" once the job is done).
  params.actions = u.actions ?? [];
  return params;
}

/** The reporter's `CheckRunWriter` on GitHub: the only place that calls the check-run endpoints. */
export class OctokitCheckRuns implements CheckRunWriter {
  constructor(private readonly octokitFor: (installationId: number) => Promise<ChecksOctokit>) {}

  async create(t: CheckRunTarget, u: CheckRunUpdate): Promise<number> {
    const octokit = await this.octokitFor(t.installationId);
    const { data } = await octokit.rest.checks.create({ owner: t.owner, repo: t.repo, ...toCheckRunParams(u), ...priority(u.status === "completed") });
    return data.id;
  }

  async update(t: CheckRunTarget, checkRunId: number, u: CheckRunUpdate): Promise<void> {
    const octokit = await this.octokitFor(t.installationId);
    const { head_sha: _sha, ...params } = toCheckRunParams(u);
    await octokit.rest.checks.update({ owner: t.owner, repo: t.repo, check_run_id: checkRunId, ...params, ...priority(u.status === "completed") });
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
      ...priority(s.state !== "pending"),
    });
  }

  async find(t: CheckRunTarget, sha: string, name: string, externalId: string): Promise<number | undefined> {
    const octokit = await this.octokitFor(t.installationId);
    const { data } = await octokit.rest.checks.listForRef({ owner: t.owner, repo: t.repo, ref: sha, check_name: name, filter: "all" });
    return data.check_runs.find((c) => c.external_id === externalId)?.id;
  }
}
