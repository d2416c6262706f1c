/**
 * How the schema reports a problem so that `issue-errors.ts` can explain it. Every value-level
 * problem is a `custom` issue whose `message` completes the sentence "`<path>` …" (e.g. "must be
 * at most 6h, got `7h`") and whose `params.hint` says how to fix it. `params.full: true` marks a
 * message that is a whole sentence; `params.at: "key"` points the error at the key rather than
 * the value. Type mismatches are left to zod and explained by `FIELD_RULES` (`field-rules.ts`).
 */
import type * as z from "zod";
import { inlineCode } from "./format-config-errors.js";

/** Issue parameters understood by `issue-errors.ts`. */
export interface IssueParams {
  hint: string;
  full?: boolean;
  at?: "key";
}

/** Adds a `custom` issue with {@link IssueParams} to a zod refinement. */
export function addIssue(ctx: z.RefinementCtx, message: string, params: IssueParams): void {
  ctx.addIssue({ code: "custom", message, params: { ...params } });
}

/** A value as the user wrote it, as inline code, cut to 60 characters. */
export function showValue(value: unknown): string {
  const s = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  return inlineCode(s.length > 60 ? `${s.slice(0, 57)}...` : s);
}
