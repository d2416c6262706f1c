import { isMap, isScalar, isSeq, type Node } from "yaml";
import { inlineCode } from "./format-config-errors.js";
import { isImplicitNull } from "./locate-path.js";
import type { ParseContext } from "./parse-context.js";

/** The text of a node as written in the file. */
export function sourceOf(ctx: ParseContext, node: Node | null): string | undefined {
  const r = node?.range;
  if (!r) return undefined;
  return ctx.text.slice(r[0], r[1]);
}

/** What a user wrote, for "got …". */
export function describeValue(ctx: ParseContext, node: Node | null, input: unknown): string {
  if (node && isMap(node)) return "a mapping";
  if (node && isSeq(node)) return "a list";
  if (input === null || (node && isImplicitNull(node) && input === undefined)) return "an empty value";
  if (Array.isArray(input)) return "a list";
  if (typeof input === "object" && input !== null) return "a mapping";
  let s = (node && isScalar(node) ? sourceOf(ctx, node) : undefined) ?? (input === undefined ? "nothing" : JSON.stringify(input));
  s = s.trim().split(/\r?\n/)[0] ?? "";
  if (s.length > 60) s = `${s.slice(0, 57)}...`;
  return inlineCode(s);
}
