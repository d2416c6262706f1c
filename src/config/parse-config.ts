/**
 * `.yaci.yml` text → {@link ParseResult}. YAML problems (syntax, duplicate keys) and schema
 * problems (unknown keys, wrong types, bad values) all become {@link ConfigError}s with the
 * 1-based line and column of the offending node, a message and a hint; all of them are collected
 * and sorted by position.
 */
import { isMap, isScalar, LineCounter, parseDocument } from "yaml";
import { describeValue } from "./describe-value.js";
import { FIELD_RULES } from "./field-rules.js";
import { issueErrors } from "./issue-errors.js";
import { keepNumberSourceInEnv } from "./keep-number-source-in-env.js";
import { keyString, locate } from "./locate-path.js";
import type { ParseContext } from "./parse-context.js";
import { yaciConfigSchema } from "./schema.js";
import { findBrokenAlias, reservedKeys, yamlError } from "./yaml-errors.js";
import type { ConfigError, ParseResult } from "./yaci-config.js";

export { didYouMean } from "./did-you-mean.js";

export function parseConfig(text: string): ParseResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  const pos = (offset: number): { line: number; column: number } => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const ctx: ParseContext = { doc, text, pos };

  const errors: ConfigError[] = doc.errors.map((e) => yamlError(ctx, e));
  errors.push(...reservedKeys(ctx));
  // Syntax errors leave the structure uncertain: report them alone. Duplicate keys do not.
  if (doc.errors.some((e) => e.code !== "DUPLICATE_KEY")) return fail(errors);

  const contents = doc.contents;
  if (contents === null || (isScalar(contents) && contents.value === null)) {
    errors.push({
      line: 1,
      column: 1,
      message: "the file is empty",
      hint: "Add `run: <command>` for a single job, or `jobs:` with named jobs.",
    });
    return fail(errors);
  }
  if (!isMap(contents)) {
    errors.push({
      ...pos(contents.range?.[0] ?? 0),
      message: `the file must be a mapping with \`run:\` or \`jobs:\`, got ${describeValue(ctx, contents, undefined)}`,
      hint: FIELD_RULES.top.hint,
    });
    return fail(errors);
  }

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    const alias = findBrokenAlias(doc);
    errors.push({
      ...pos(alias?.range?.[0] ?? 0),
      message: `the YAML cannot be read: ${(err as Error).message}`,
      hint: "Define each anchor (`&name`) before its alias (`*name`) and avoid deeply nested aliases.",
    });
    return fail(errors);
  }
  keepNumberSourceInEnv(ctx, value);

  const result = yaciConfigSchema.safeParse(value, { reportInput: true });
  if (!result.success) {
    for (const issue of result.error.issues) errors.push(...issueErrors(ctx, issue, []));
  }
  if (errors.length > 0 || !result.success) return fail(errors);
  // JavaScript objects list integer-like keys (`"10"`) first: restore the file's job order.
  const jobs = locate(doc, ["jobs"]);
  if (jobs.found && jobs.node && isMap(jobs.node)) {
    const order = new Map(jobs.node.items.map((p, i) => [keyString(p.key), i] as const));
    result.data.jobs.sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0));
  }
  return { ok: true, config: result.data };
}

/** Drops repeated errors and sorts the rest by position. */
function fail(errors: ConfigError[]): ParseResult {
  const seen = new Set<string>();
  const unique = errors.filter((e) => {
    const k = `${e.line}:${e.column}:${e.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  unique.sort((a, b) => a.line - b.line || a.column - b.column);
  return { ok: false, errors: unique };
}
