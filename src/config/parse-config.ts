/**
 * `.yaci.yml` text → {@link ParseResult}. YAML problems (syntax, duplicate keys) and schema
 * problems (unknown keys, wrong types, bad values) all become {@link ConfigError}s with the
 * 1-based line and column of the offending node, a message and a hint; all of them are collected
 * and sorted by position (the first `CONFIG_LIMITS.errors` are listed, the rest counted).
 * Size, encoding, token count and depth are checked before the YAML parser runs
 * (`config-limits.ts`); every step after it is linear in the size of the document.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type YAMLMap } from "yaml";
import type * as z from "zod";
import { CONFIG_LIMITS, fileTooLarge, invalidUtf8Offset, positionIn, scanConfigText } from "./config-limits.js";
import {
  describeValue,
  findBrokenAlias,
  issueErrors,
  issueOffset,
  keyString,
  locate,
  type ParsedDoc,
  reservedKeys,
  sourceOf,
  yamlError,
  type ParseContext,
  type PathSegment,
} from "./config-errors.js";
import { FIELD_RULES, inlineCode } from "./messages.js";
import { yaciConfigSchema } from "./schema.js";
import type { ConfigError, ParseResult } from "./yaci-config.js";

/** Parses a `.yaci.yml` given as text, or as the file's bytes (then checked to be UTF-8). */
export function parseConfig(input: string | Uint8Array): ParseResult {
  const size = typeof input === "string" ? Buffer.byteLength(input, "utf8") : input.length;
  if (size > CONFIG_LIMITS.fileBytes) return fail([fileTooLarge(size)]);
  let text: string;
  if (typeof input === "string") text = input;
  else {
    const bad = invalidUtf8Offset(input);
    if (bad !== -1) {
      const before = Buffer.from(input.subarray(0, bad)).toString("utf8");
      const byte = input[bad]!.toString(16).padStart(2, "0");
      return fail([
        {
          ...positionIn(before)(before.length),
          message: `the file is not valid UTF-8 (byte 0x${byte})`,
          hint: "Save `.yaci.yml` as UTF-8 text; binary files cannot be configs.",
        },
      ]);
    }
    text = Buffer.from(input).toString("utf8");
  }
  const refused = scanConfigText(text);
  if (refused) return fail([refused]);

  const lineCounter = new LineCounter();
  // Duplicate keys are found below in one pass: yaml's own check is quadratic in a mapping's size.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: false });
  const pos = (offset: number): { line: number; column: number } => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const ctx: ParseContext = { doc, text, pos };

  // Only the first errors get the (costlier) positioning; the others are counted.
  const yamlErrors = [...doc.errors].sort((a, b) => a.pos[0] - b.pos[0]);
  const errors: ConfigError[] = yamlErrors.slice(0, CONFIG_LIMITS.errors).map((e) => yamlError(ctx, e));
  const uncounted = Math.max(0, yamlErrors.length - CONFIG_LIMITS.errors);
  // Syntax errors leave the structure uncertain: report them alone.
  if (yamlErrors.length > 0) return fail(errors, uncounted);
  errors.push(...reservedKeys(ctx), ...duplicateKeys(doc, pos));

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

  const jobs = locate(doc, ["jobs"]);
  if (jobs.found && jobs.node && isMap(jobs.node) && jobs.node.items.length > CONFIG_LIMITS.jobs) {
    const extra = jobs.node.items[CONFIG_LIMITS.jobs]!.key;
    errors.push({
      ...pos((isScalar(extra) ? extra.range?.[0] : undefined) ?? jobs.node.range?.[0] ?? 0),
      path: "jobs",
      message: `\`jobs\` has ${jobs.node.items.length} jobs, more than the limit of ${CONFIG_LIMITS.jobs}`,
      hint: "Merge small jobs into one (a `run:` script can run several commands).",
    });
    return fail(errors);
  }

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: CONFIG_LIMITS.aliases });
  } catch (err) {
    const alias = findBrokenAlias(doc);
    const excessive = !alias && /alias count/i.test((err as Error).message);
    errors.push({
      ...pos(alias?.range?.[0] ?? 0),
      message: excessive
        ? `the file expands aliases (\`*name\`) too often: at most ${CONFIG_LIMITS.aliases} expansions are allowed`
        : `the YAML cannot be read: ${(err as Error).message}`,
      hint: excessive
        ? "Write the values out, or use fewer and flatter anchors: aliases of aliases multiply."
        : "Define each anchor (`&name`) before its alias (`*name`) and avoid deeply nested aliases.",
    });
    return fail(errors);
  }
  keepNumberSourceInEnv(ctx, value);

  const result = yaciConfigSchema.safeParse(value, { reportInput: true });
  if (!result.success) {
    // One issue per unknown key; messages and hints only for the first ones in the file.
    const issues = result.error.issues.flatMap((i): z.core.$ZodIssue[] => (i.code === "unrecognized_keys" ? i.keys.map((k) => ({ ...i, keys: [k] })) : [i]));
    const pending = issues.map((issue) => ({ issue, at: issueOffset(ctx, issue) })).sort((a, b) => a.at - b.at);
    const built = pending.slice(0, CONFIG_LIMITS.errors);
    for (const { issue } of built) errors.push(...issueErrors(ctx, issue, []));
    return fail(errors, pending.length - built.length);
  }
  if (errors.length > 0) return fail(errors);
  // JavaScript objects list integer-like keys (`"10"`) first: restore the file's job order
  // (a matrix combination `test (20, pg)` goes by its job's name; the sort keeps their order).
  if (jobs.found && jobs.node && isMap(jobs.node)) {
    const order = new Map(jobs.node.items.map((p, i) => [keyString(p.key), i] as const));
    const rank = (name: string) => order.get(name.includes(" (") ? name.slice(0, name.indexOf(" (")) : name) ?? 0;
    result.data.jobs.sort((a, b) => rank(a.name) - rank(b.name));
  }
  return { ok: true, config: result.data };
}

/**
 * Keys that appear twice in one mapping, at the second one (one pass, a set per mapping).
 * Job names are compared case-insensitively by the schema; here the text must be equal.
 */
function duplicateKeys(doc: ParsedDoc, pos: ParseContext["pos"]): ConfigError[] {
  const out: ConfigError[] = [];
  visit(doc, {
    Map(_, map: YAMLMap) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        const name = keyString(pair.key);
        if (!seen.has(name)) {
          seen.add(name);
          continue;
        }
        const k = pair.key as { range?: [number, number, number] } | null;
        const shown = inlineCode(name.length > 40 ? `${name.slice(0, 37)}...` : name);
        out.push({
          ...pos(k?.range?.[0] ?? map.range?.[0] ?? 0),
          message: `duplicate key ${shown}`,
          hint: `Remove one of the ${shown} entries or merge them: a key may appear only once in a mapping.`,
        });
      }
    },
  });
  return out;
}

/** Drops repeated errors, sorts the rest by position, keeps the first `CONFIG_LIMITS.errors`. */
function fail(errors: ConfigError[], uncounted = 0): ParseResult {
  const seen = new Set<string>();
  const unique = errors.filter((e) => {
    const k = `${e.line}:${e.column}:${e.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  unique.sort((a, b) => a.line - b.line || a.column - b.column);
  const omitted = Math.max(0, unique.length - CONFIG_LIMITS.errors) + uncounted;
  const shown = unique.slice(0, CONFIG_LIMITS.errors);
  return omitted > 0 ? { ok: false, errors: shown, omitted } : { ok: false, errors: shown };
}

/**
 * YAML turns `VERSION: 1.0` into the number 1; env values and matrix values (`python: [3.10]`)
 * keep the text the user wrote.
 */
function keepNumberSourceInEnv(ctx: ParseContext, value: unknown): void {
  if (!isRecord(value)) return;
  const envPaths: PathSegment[][] = [["env"]];
  if (isRecord(value.jobs)) {
    for (const [name, job] of Object.entries(value.jobs)) {
      envPaths.push(["jobs", name, "env"]);
      if (isRecord(job) && isRecord(job.matrix)) envPaths.push(...matrixPaths(["jobs", name, "matrix"], job.matrix));
    }
  }
  for (const path of envPaths) {
    let target: unknown = value;
    for (const seg of path) target = isRecord(target) ? target[seg] : Array.isArray(target) && typeof seg === "number" ? target[seg] : undefined;
    const loc = locate(ctx.doc, path);
    if (Array.isArray(target) && loc.found && loc.node && isSeq(loc.node)) {
      loc.node.items.forEach((v, i) => {
        const src = isScalar(v) && typeof v.value === "number" && v.type === "PLAIN" ? sourceOf(ctx, v)?.trim() : undefined;
        if (src !== undefined && typeof target[i] === "number") target[i] = src;
      });
      continue;
    }
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

/** The value lists and `include`/`exclude` entries of a matrix. */
function matrixPaths(at: PathSegment[], matrix: Record<string, unknown>): PathSegment[][] {
  const out: PathSegment[][] = [];
  for (const [key, v] of Object.entries(matrix)) {
    if ((key === "include" || key === "exclude") && Array.isArray(v)) v.forEach((_, i) => out.push([...at, key, i]));
    else if (Array.isArray(v)) out.push([...at, key]);
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
