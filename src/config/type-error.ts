/** Type mismatches (a list where a string belongs, …) → {@link ConfigError}s. */
import type * as z from "zod";
import { displayPath, kindOf, subjectOf } from "./config-path.js";
import { describeValue } from "./describe-value.js";
import { tryParseDuration } from "./duration.js";
import { locate } from "./locate-path.js";
import type { ParseContext, PathSegment } from "./parse-context.js";
import type { ConfigError } from "./yaci-config.js";

/** An alternative of a union that failed only because the value has another type. */
export function isTypeMismatch(issue: z.core.$ZodIssue, input: unknown): boolean {
  if (issue.path.length > 0) return false;
  if (issue.code === "invalid_type") return true;
  // An enum or literal of strings given a list, a mapping or a number.
  if (issue.code === "invalid_value") return !issue.values.some((v) => typeof v === typeof input && input !== null);
  return false;
}

export function typeError(
  ctx: ParseContext,
  path: readonly PathSegment[],
  input: unknown,
  rule: { expect: string; hint: string } | undefined,
  where: () => { line: number; column: number },
): ConfigError {
  const node = locate(ctx.doc, path).node;
  let hint = rule?.hint ?? "Fix the value.";
  if (kindOf(path) === "timeout" && typeof input === "number") {
    const r = tryParseDuration(String(input));
    if (!r.ok) hint = r.hint;
  }
  return {
    ...where(),
    path: displayPath(path) || undefined,
    message: `${subjectOf(path)} must be ${rule?.expect ?? "a different type"}, got ${describeValue(ctx, node, input)}`,
    hint,
  };
}
