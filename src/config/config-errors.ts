/** zod issues → {@link ConfigError}s with the position of the offending key or value, a message and a hint. */
import type * as z from "zod";
import { displayPath, kindOf, levelOf, subjectOf } from "./config-path.js";
import { describeValue } from "./describe-value.js";
import { didYouMean } from "./did-you-mean.js";
import { FIELD_RULES } from "./field-rules.js";
import { inlineCode } from "./format-config-errors.js";
import type { IssueParams } from "./issue-params.js";
import { locate, offsetOf } from "./locate-path.js";
import type { ParseContext, PathSegment } from "./parse-context.js";
import { isTypeMismatch, typeError } from "./type-error.js";
import { unknownKeyHint } from "./unknown-key-hint.js";
import type { ConfigError } from "./yaci-config.js";

function ruleFor(path: readonly PathSegment[]): { expect: string; hint: string } | undefined {
  const kind = kindOf(path);
  return kind ? FIELD_RULES[kind] : undefined;
}

export function issueErrors(ctx: ParseContext, issue: z.core.$ZodIssue, prefix: readonly PathSegment[]): ConfigError[] {
  const path: PathSegment[] = [...prefix, ...(issue.path as PathSegment[])];
  const where = (at?: "key" | "value") => ctx.pos(offsetOf(locate(ctx.doc, path), at));
  const dotted = displayPath(path) || undefined;
  const subject = subjectOf(path);
  const rule = ruleFor(path);

  if ((issue.code === "invalid_type" || issue.code === "invalid_union") && issue.input === undefined && path.length > 0) {
    if (!locate(ctx.doc, path).found) {
      // A required key is missing: point at the mapping that should hold it.
      const key = String(path[path.length - 1]);
      const parent = path.slice(0, -1);
      const owner = parent.length === 0 ? "the file" : subjectOf(parent);
      return [
        {
          ...where(),
          path: dotted,
          message: `${owner} has no ${inlineCode(`${key}:`)}`,
          hint: rule?.hint ?? `Add ${inlineCode(`${key}:`)}.`,
        },
      ];
    }
  }

  switch (issue.code) {
    case "unrecognized_keys": {
      const { where: level, known } = levelOf(path);
      return issue.keys.map((key) => {
        const keyPath = [...path, key];
        return {
          ...ctx.pos(offsetOf(locate(ctx.doc, keyPath), "key")),
          path: displayPath(keyPath),
          message: `unknown key ${inlineCode(key)} ${level}`,
          hint: unknownKeyHint(ctx, path, key, known),
        };
      });
    }
    case "invalid_key": {
      const inner = issue.issues[0];
      const params = (inner && "params" in inner ? inner.params : undefined) as IssueParams | undefined;
      return [
        {
          ...where("key"),
          path: dotted,
          message: inner?.code === "custom" ? inner.message : `invalid key ${inlineCode(String(path[path.length - 1]))}`,
          hint: params?.hint ?? rule?.hint ?? "Rename the key.",
        },
      ];
    }
    case "invalid_union": {
      // Report the alternative whose type matched what the user wrote, if any.
      const typed = issue.errors.filter((branch) => !(branch.length === 1 && isTypeMismatch(branch[0]!, issue.input)));
      if (typed.length > 0) return typed[0]!.flatMap((inner) => issueErrors(ctx, inner, path));
      return [typeError(ctx, path, issue.input, rule, where)];
    }
    case "invalid_type":
      return [typeError(ctx, path, issue.input, rule, where)];
    case "invalid_value": {
      const got = describeValue(ctx, locate(ctx.doc, path).node, issue.input);
      const allowed = issue.values.map((v) => inlineCode(String(v)));
      const close = typeof issue.input === "string" ? didYouMean(issue.input, issue.values.map(String)) : undefined;
      return [
        {
          ...where(),
          path: dotted,
          message: `${subject} must be ${allowed.join(" or ")}, got ${got}`,
          hint: close ? `Did you mean ${inlineCode(close)}?` : rule?.hint ?? `Use ${allowed.join(" or ")}.`,
        },
      ];
    }
    case "custom": {
      const params = (issue.params ?? {}) as Partial<IssueParams>;
      return [
        {
          ...where(params.at),
          path: dotted,
          message: params.full ? issue.message : `${subject} ${issue.message}`,
          hint: params.hint ?? rule?.hint ?? "Fix the value.",
        },
      ];
    }
    default:
      return [
        {
          ...where(),
          path: dotted,
          message: `${subject}: ${issue.message}`,
          hint: rule?.hint ?? "Fix the value.",
        },
      ];
  }
}
