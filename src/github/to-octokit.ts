import type { CheckRunUpdate } from "../core/check-update.js";
import { GITHUB_OUTPUT_LIMIT } from "../logs/excerpt.js";
import type { Annotation } from "../logs/annotations.js";

/** Cuts Markdown to GitHub's limit (keeping its start: summaries lead with what matters). */
export function clip(text: string, limit = GITHUB_OUTPUT_LIMIT): string {
  if (text.length <= limit) return text;
  const note = "\n\n… (cut to fit GitHub's limit)";
  return text.slice(0, limit - note.length) + note;
}

/** The body of `POST/PATCH /repos/{owner}/{repo}/check-runs`. */
export function toCheckRunParams(u: CheckRunUpdate) {
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
    conclusion?: "success" | "failure" | "timed_out" | "cancelled" | "action_required" | "neutral";
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
