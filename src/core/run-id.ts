import { createHash } from "node:crypto";
import type { RunKey } from "./run.js";

/** Longest run id: leaves room for Kubernetes' 6-character pod suffix within 63 characters. */
export const MAX_RUN_ID_LENGTH = 56;

function slug(text: string, max: number): string {
  const s = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, max)
    .replace(/-+$/g, "");
  return s || "job";
}

/**
 * The id of one attempt of one job of one commit: deterministic (the same event always gives the
 * same id, so a duplicate start is detected), readable (job name and short SHA), and a valid
 * Kubernetes name and label value (lowercase alphanumerics and '-', at most 56 characters).
 */
export function runId(key: RunKey, attempt: number): string {
  const hash = createHash("sha256")
    .update(`${key.owner}/${key.repo}@${key.sha}#${key.job}`)
    .digest("hex")
    .slice(0, 10);
  return `yaci-${slug(key.job, 24)}-${key.sha.slice(0, 7).toLowerCase()}-${hash}-${attempt}`;
}

const RUN_ID_IN_TEXT = /\byaci-(?:run-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[a-z0-9-]*?-?[0-9a-f]{7}-[0-9a-f]{10}-\d+)\b/;

/** The first run id a log message mentions (for structured logs of parts that log plain text). */
export function runIdIn(text: string): string | undefined {
  return RUN_ID_IN_TEXT.exec(text)?.[0];
}
