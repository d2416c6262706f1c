/**
 * `.yaci.yml` text → {@link ParseResult}. YAML problems (syntax, duplicate keys) and schema
 * problems (unknown keys, wrong types, bad values) all become {@link ConfigError}s with the
 * 1-based line and column of the offending node, a message and a hint; all of them are collected
 * and sorted by position.
 */
import { isMap, isScalar, LineCounter, parseDocument } from "yaml";
import {
  describeValue,
  findBrokenAlias,
  issueErrors,
  keyString,
  locate,
  reservedKeys,
  sourceOf,
  yamlError,
  type ParseContext,
  type PathSegment,
} from "./config-errors.js";
import { FIELD_RULES } from "./messages.js";
import { yaciConfigSchema } from "./schema.js";
import type { ConfigError, ParseResult } from "./yaci-config.js";

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

/** YAML turns `VERSION: 1.0` into the number 1; env values keep the text the user wrote. */
function keepNumberSourceInEnv(ctx: ParseContext, value: unknown): void {
  if (!isRecord(value)) return;
  const envPaths: PathSegment[][] = [["env"]];
  if (isRecord(value.jobs)) for (const name of Object.keys(value.jobs)) envPaths.push(["jobs", name, "env"]);
  for (const path of envPaths) {
    let target: unknown = value;
    for (const seg of path) target = isRecord(target) ? target[seg] : undefined;
    const loc = locate(ctx.doc, path);
    if (!isRecord(target) || !loc.found || !loc.node || !isMap(loc.node)) continue;
    for (const pair of loc.node.items) {
      const v = pair.value;
      if (isScalar(v) && typeof v.value === "number" && v.type === "PLAIN") {
        const src = sourceOf(ctx, v)?.trim();
        const name = keyString(pair.key);
        if (src !== undefined && typeof target[name] === "number") target[name] = src;
      }
    }
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
