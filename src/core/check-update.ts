import { createHash } from "node:crypto";
import type { RunRecord, ReportedState } from "./run.js";
import { assertNever, type Conclusion, type RunPhase } from "./status.js";
import { formatDuration } from "./format-duration.js";
import { describePosition } from "./queue-policy.js";
import { waitingText } from "./pipeline.js";
import type { Annotation } from "../logs/annotations.js";

/** A button on a check run (GitHub: ≤ 3, label ≤ 20, identifier ≤ 20, description ≤ 40 chars). */
export interface CheckAction {
  label: string;
  description: string;
  identifier: string;
}

/** A forge-neutral check-run state; `github/` turns it into API parameters. */
export interface CheckRunUpdate {
  name: string;
  headSha: string;
  externalId: string;
  status: RunPhase;
  conclusion?: Conclusion;
  startedAt?: string;
  completedAt?: string;
  detailsUrl?: string;
  title: string;
  summary: string;
  text?: string;
  actions?: CheckAction[];
  /** At most 50 per write (GitHub's limit); the reporter sends the rest in further updates. */
  annotations?: Annotation[];
}

/** What a running job's check run shows of it so far (the reporter's live-log refresh). */
export interface LiveLog {
  /** The end of the log so far, as an excerpt within GitHub's limit (`logs/excerpt.ts`). */
  text: string;
  /** How long the job had been running when that log was read. */
  runningMs: number;
  /** How often it is refreshed (said in the summary). */
  intervalMs: number;
}

export interface CheckUpdateContext {
  /** The log as `output.text` (already an excerpt within GitHub's limit); only sent when completed. */
  logText?: string;
  /** While the job runs: its log so far, shown as `output.text` (see `LiveLog`). */
  live?: LiveLog;
  detailsUrl?: string;
  /** Offer a "Cancel" button while the job waits or runs. */
  cancelButton?: boolean;
  /** The executor does not isolate jobs from the app ("not sandboxed: …"): said in every summary. */
  isolationWarning?: string;
}

export const CANCEL_ACTION: CheckAction = { label: "Cancel", description: "Stop this job", identifier: "cancel" };

function durationMs(r: RunRecord): number | undefined {
  if (!r.startedAt || !r.finishedAt) return undefined;
  return Date.parse(r.finishedAt) - Date.parse(r.startedAt);
}

/** The headline a person reads at a glance (`runningMs`: how long a running job has run, when known). */
export function checkTitle(r: RunRecord, runningMs?: number): string {
  if (r.spec.notice) return r.message ?? r.spec.notice.title;
  switch (r.phase) {
    case "queued":
      if (r.waitingFor) return waitingText(r.waitingFor);
      if (r.waitingReason) return `Waiting: ${r.waitingReason}`;
      return r.queuePosition ? describePosition(r.queuePosition, r.spec.key.owner) : "Queued";
    case "in_progress":
      return runningMs === undefined ? "Running" : `Running for ${formatDuration(runningMs)}`;
    case "completed":
      break;
    default:
      return assertNever(r.phase, "phase");
  }
  const took = durationMs(r);
  const after = took === undefined ? "" : ` after ${formatDuration(took)}`;
  const conclusion = r.conclusion ?? "failure";
  switch (conclusion) {
    case "success":
      return took === undefined ? "Passed" : `Passed in ${formatDuration(took)}`;
    case "failure":
      if (r.message) return `Failed: ${r.message}`;
      if (r.exitCode !== undefined) return `Failed: exit code ${r.exitCode}${after}`;
      return `Failed${after}`;
    case "timed_out":
      return `Timed out after ${formatDuration(r.spec.timeoutMs)}`;
    case "cancelled":
      return r.cancelReason ? `Cancelled: ${r.cancelReason}` : `Cancelled${after}`;
    case "action_required":
      return r.message ?? "Approval required";
    case "neutral":
      return r.message ?? "Skipped";
    case "skipped":
      return r.message ? `Skipped: ${r.message}` : "Skipped";
    default:
      return assertNever(conclusion, "conclusion");
  }
}

function row(label: string, value: string | undefined): string {
  return value === undefined ? "" : `| ${label} | ${value} |\n`;
}

/** The Markdown summary: what ran, where, on which commit, how long, how it ended. */
export function checkSummary(r: RunRecord, executorKind: string, isolationWarning?: string): string {
  if (r.spec.notice) return r.spec.notice.summary;
  const s = r.spec;
  const took = durationMs(r);
  const image =
    executorKind === "local"
      ? `\`${s.image}\` (not used: the local executor runs the job on the host)`
      : `\`${s.image}\``;
  let md = `| | |\n|---|---|\n`;
  md += row("Job", `\`${s.key.job}\``);
  md += row("Image", image);
  md += row("Executor", executorKind);
  md += row("Commit", s.checkout ? `\`${s.key.sha.slice(0, 7)}\` (${s.ref.replace(/^refs\/(heads|tags)\//, "")})` : undefined);
  md += row("Attempt", s.attempt > 1 ? String(s.attempt) : undefined);
  md += row("Duration", took === undefined ? undefined : formatDuration(took));
  md += row("Exit code", r.exitCode === undefined ? undefined : String(r.exitCode));
  if (r.phase === "queued" && r.waitingFor) md += `\n**Waiting for:** ${r.waitingFor.map((j) => `\`${j}\``).join(", ")}. This job starts when every job it needs has succeeded, and is skipped if one of them does not.\n`;
  else if (r.phase === "queued" && r.waitingReason) md += `\n**Waiting:** ${r.waitingReason}\n`;
  else if (r.phase === "queued" && r.queuePosition) md += `\n**Queue:** ${describePosition(r.queuePosition, r.spec.key.owner)}. Jobs are started fairly between installations, then repositories, then in order of arrival.\n`;
  if (r.message && r.phase === "completed") md += `\n**Result:** ${r.message}\n`;
  if (r.cancelReason) md += `\n**Cancelled:** ${r.cancelReason}\n`;
  if (s.secretsWithheld && s.secrets?.length) md += `\n**Secrets:** not given (${s.secretsWithheld}): ${s.secrets.map((n) => `\`${n}\``).join(", ")}\n`;
  if (isolationWarning) md += `\n**Warning:** ${isolationWarning}\n`;
  return md;
}

/**
 * A fingerprint of everything but the final log, so an identical state is not written twice (a
 * running job's live log counts: a new one is a new state).
 */
export function reportedStateOf(u: CheckRunUpdate): ReportedState {
  const live = u.status === "in_progress" && u.text !== undefined ? [u.text] : [];
  const digest = createHash("sha256")
    .update(JSON.stringify([u.title, u.summary, u.detailsUrl ?? "", u.actions?.length ?? 0, ...live]))
    .digest("hex")
    .slice(0, 16);
  return { phase: u.status, conclusion: u.conclusion, digest };
}

export function sameReportedState(a: ReportedState | undefined, b: ReportedState): boolean {
  return !!a && a.phase === b.phase && a.conclusion === b.conclusion && a.digest === b.digest;
}

/** The pure mapping from what YACI knows of a run to the check run GitHub should show. */
export function toCheckRunUpdate(r: RunRecord, executorKind: string, ctx: CheckUpdateContext = {}): CheckRunUpdate {
  const u: CheckRunUpdate = {
    name: r.spec.key.job,
    headSha: r.spec.key.sha,
    externalId: r.spec.id,
    status: r.phase,
    title: checkTitle(r, r.phase === "in_progress" ? ctx.live?.runningMs : undefined),
    summary: checkSummary(r, executorKind, ctx.isolationWarning),
  };
  if (r.phase === "in_progress" && ctx.live && !r.spec.notice) {
    const every = formatDuration(ctx.live.intervalMs);
    const where = ctx.detailsUrl ? `; the [run page](${ctx.detailsUrl}) shows the whole log live` : "";
    u.summary += `\n**Log so far** (below): its end after ${formatDuration(ctx.live.runningMs)}, refreshed at most every ${every} while it grows${where}.\n`;
    u.text = ctx.live.text;
  }
  if (r.startedAt) u.startedAt = r.startedAt;
  const detailsUrl = r.spec.notice?.detailsUrl ?? ctx.detailsUrl;
  if (detailsUrl) u.detailsUrl = detailsUrl;
  if (r.phase === "completed") {
    u.conclusion = r.conclusion ?? "failure";
    u.completedAt = r.finishedAt ?? r.createdAt;
    if (ctx.logText !== undefined) u.text = ctx.logText;
  } else if (ctx.cancelButton) {
    u.actions = [CANCEL_ACTION];
  }
  return u;
}
