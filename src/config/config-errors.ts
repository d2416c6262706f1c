/**
 * Problems in a `.yaci.yml` → {@link ConfigError}s with the 1-based position of the offending key
 * or value, a message and a hint: YAML problems (syntax errors, duplicate keys, `__proto__` keys,
 * broken aliases) and zod issues (unknown keys, wrong types, bad values). Also finds the YAML node
 * at a config path, which is what gives every error its position.
 */
import { isAlias, isMap, isNode, isScalar, isSeq, visit, type Alias, type Document, type Node, type Pair, type YAMLError, type YAMLMap } from "yaml";
import type * as z from "zod";
import { tryParseDuration } from "./duration.js";
import { didYouMean, FIELD_RULES, inlineCode, type FieldKind, type IssueParams } from "./messages.js";
import { KNOWN_KEYS } from "./schema.js";
import type { ConfigError } from "./yaci-config.js";

// ---- The parsed file, as the error builders need it (`parseConfig` makes it) ----

/** One step of a path into the config: a mapping key or a list index. */
export type PathSegment = string | number;
export type ParsedDoc = Document.Parsed;

/** What the error builders read: the YAML document, its text, and offset → 1-based position. */
export interface ParseContext {
  doc: ParsedDoc;
  text: string;
  pos: (offset: number) => { line: number; column: number };
}

// ---- Finding the YAML node at a config path, and the offset an error about it should point at ----

interface Location {
  /** The node at the path, or the deepest existing ancestor when `found` is false. */
  node: Node | null;
  /** The key node of the pair holding `node`, when it is a mapping value. */
  key: Node | null;
  found: boolean;
}

export function keyString(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

/** Each mapping's pairs by key (the first of duplicates), built once: `locate` costs O(path length). */
const pairIndex = new WeakMap<YAMLMap, Map<string, Pair>>();

function pairOf(map: YAMLMap, name: string): Pair | undefined {
  let index = pairIndex.get(map);
  if (!index) {
    index = new Map();
    for (const p of map.items) {
      const k = keyString(p.key);
      if (!index.has(k)) index.set(k, p);
    }
    pairIndex.set(map, index);
  }
  return index.get(name);
}

/** `alias.resolve` searches the whole document: resolve each alias once. */
const aliasTargets = new WeakMap<Node, Node | null>();

function resolveAlias(doc: ParsedDoc, alias: Alias): Node | undefined {
  let target = aliasTargets.get(alias);
  if (target === undefined) {
    target = (alias.resolve(doc) as Node | undefined) ?? null;
    aliasTargets.set(alias, target);
  }
  return target ?? undefined;
}

export function locate(doc: ParsedDoc, path: readonly PathSegment[]): Location {
  let node: Node | null = (doc.contents as Node | null) ?? null;
  let key: Node | null = null;
  for (const seg of path) {
    if (node && isAlias(node)) node = resolveAlias(doc, node) ?? node;
    if (node && isMap(node)) {
      const pair = pairOf(node, String(seg));
      if (!pair) return { node, key, found: false };
      key = isNode(pair.key) ? pair.key : null;
      node = isNode(pair.value) ? pair.value : null;
      if (node === null) return { node: key, key, found: true };
    } else if (node && isSeq(node) && typeof seg === "number" && isNode(node.items[seg])) {
      node = node.items[seg] as Node;
      key = null;
    } else {
      return { node, key, found: false };
    }
  }
  return { node, key, found: true };
}

function offsetOf(loc: Location, at: "key" | "value" | undefined): number {
  const { node, key } = loc;
  let target = node;
  if (loc.found && key && (at === "key" || isImplicitNull(node))) target = key;
  return target?.range?.[0] ?? 0;
}

/** `job:` with nothing after it: the null node has no text, so point at the key instead. */
function isImplicitNull(node: Node | null): boolean {
  return node === null || (isScalar(node) && node.value === null && (!node.range || node.range[0] === node.range[1]));
}

// ---- Config paths (`["jobs", "test", "timeout"]`) as shown in messages, and the kind of field they name ----

function displayPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const seg of path) out += typeof seg === "number" ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

function subjectOf(path: readonly PathSegment[]): string {
  if (path.length === 0) return "the file";
  if (path.length === 2 && path[0] === "jobs") return `job ${inlineCode(String(path[1]))}`;
  return inlineCode(displayPath(path));
}

/** Which kind of field a path names, for messages and hints. */
function kindOf(path: readonly PathSegment[]): FieldKind | undefined {
  let p = [...path];
  if (p.length === 0) return "top";
  if (p[0] === "jobs" && p.length >= 2) {
    if (p.length === 2) return "job";
    p = p.slice(2);
  }
  const [a, b, c, d] = p;
  switch (a) {
    case "env":
      return p.length === 1 ? "env" : "envValue";
    case "run":
      return p.length === 1 ? "run" : "runLine";
    case "resources":
      return p.length === 1 ? "resources" : b === "cpu" ? "cpu" : b === "memory" ? "memory" : undefined;
    case "needs":
      return p.length === 1 ? "needs" : "need";
    case "secrets":
      return p.length === 1 ? "secrets" : "secret";
    case "matrix":
      if (p.length === 1) return "matrix";
      if (b === "include" || b === "exclude") return p.length === 2 ? "matrixEntries" : p.length === 3 ? "matrixEntry" : "matrixValue";
      return p.length === 2 ? "matrixValues" : "matrixValue";
    case "on":
      if (p.length === 1) return "on";
      if (typeof b === "number") return "event";
      if (p.length === 2) return "eventFilter";
      if (c === "branches") return d === undefined ? "branches" : "branch";
      return undefined;
    default:
      return typeof a === "string" && a in FIELD_RULES ? (a as FieldKind) : undefined;
  }
}

/** Where the keys of the mapping at `path` are checked, with the keys allowed there. */
function levelOf(path: readonly PathSegment[]): { where: string; known: readonly string[] } {
  if (path.length === 0) return { where: "at the top level", known: KNOWN_KEYS.top };
  if (path[0] === "jobs" && path.length === 2) return { where: `in job ${inlineCode(String(path[1]))}`, known: KNOWN_KEYS.job };
  const kind = kindOf(path);
  const where = `in ${inlineCode(displayPath(path))}`;
  if (kind === "resources") return { where, known: KNOWN_KEYS.resources };
  if (kind === "on") return { where, known: KNOWN_KEYS.on };
  if (kind === "eventFilter") return { where, known: KNOWN_KEYS.eventFilter };
  return { where, known: [] };
}

// ---- Describing values and suggesting fixes ----

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

const TOP_ONLY = new Set(["version", "on", "cancel_superseded", "jobs"]);

/** How to fix an unknown key `key` in the mapping at `path`, whose allowed keys are `known`. */
function unknownKeyHint(ctx: ParseContext, path: readonly PathSegment[], key: string, known: readonly string[]): string {
  const level = path.length === 0 ? "top" : kindOf(path);
  if (level === "job" && TOP_ONLY.has(key)) return `${inlineCode(key)} is only allowed at the top level of the file, not in a job.`;
  const close = didYouMean(key, known);
  if (close) return `Did you mean ${inlineCode(close)}?`;
  const list = `Allowed here: ${known.map((k) => inlineCode(k)).join(", ")}.`;
  if (level === "top") {
    if (key === "resources") return "`resources` is set per job: use the `jobs:` form and put `resources:` under the job.";
    const loc = locate(ctx.doc, [key]);
    if (loc.found && loc.node && isMap(loc.node) && loc.node.items.some((p) => keyString(p.key) === "run")) {
      return `To define a job named ${inlineCode(key)}, indent it under \`jobs:\`.`;
    }
  }
  if (level === "job" && ["steps", "script", "scripts", "command", "commands", "cmd"].includes(key)) {
    return `Write the commands under \`run:\`. ${list}`;
  }
  if (level === "on") {
    if (key === "branches") return "`branches` goes under an event, e.g. `on: { push: { branches: [main] } }`.";
    return `YACI runs on \`push\` and \`pull_request\` only. ${list}`;
  }
  if (level === "eventFilter") return `Only \`branches\` is supported in an event filter. ${list}`;
  return known.length > 0 ? `Remove it or use a known key. ${list}` : "Remove it.";
}

// ---- Type mismatches (a list where a string belongs, …) ----

/** An alternative of a union that failed only because the value has another type. */
function isTypeMismatch(issue: z.core.$ZodIssue, input: unknown): boolean {
  if (issue.path.length > 0) return false;
  if (issue.code === "invalid_type") return true;
  // An enum or literal of strings given a list, a mapping or a number.
  if (issue.code === "invalid_value") return !issue.values.some((v) => typeof v === typeof input && input !== null);
  return false;
}

function typeError(
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

// ---- zod issues ----

function ruleFor(path: readonly PathSegment[]): { expect: string; hint: string } | undefined {
  const kind = kindOf(path);
  return kind ? FIELD_RULES[kind] : undefined;
}

/**
 * Where an issue's error will point (roughly: at its node), so that only the first issues of a
 * file need their messages built. An `unrecognized_keys` issue must name a single key.
 */
export function issueOffset(ctx: ParseContext, issue: z.core.$ZodIssue): number {
  const path = issue.path as PathSegment[];
  if (issue.code === "unrecognized_keys") return offsetOf(locate(ctx.doc, [...path, issue.keys[0]!]), "key");
  return offsetOf(locate(ctx.doc, path), undefined);
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
          ...(params.find !== undefined ? findIn(ctx, path, params.find) ?? where(params.at) : where(params.at)),
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

/** The position of `text` as written inside the value at `path` (e.g. an expression in a script). */
function findIn(ctx: ParseContext, path: readonly PathSegment[], text: string): { line: number; column: number } | undefined {
  const loc = locate(ctx.doc, path);
  const start = loc.found ? loc.node?.range?.[0] : undefined;
  const i = start === undefined ? -1 : (sourceOf(ctx, loc.node) ?? "").indexOf(text);
  return start === undefined || i < 0 ? undefined : ctx.pos(start + i);
}

// ---- YAML problems ----

const YAML_HINTS: Record<string, string> = {
  TAB_AS_INDENT: "YAML does not allow tabs for indentation: indent with spaces.",
  BAD_INDENT:
    "Check the indentation: keys of one mapping start in the same column, and a nested value is indented further than its key.",
  BLOCK_AS_IMPLICIT_KEY:
    "A value that contains `: ` must be quoted (e.g. `run: \"echo a: b\"`) or written as a block (`run: |` and the command on the next, indented line).",
  MULTILINE_IMPLICIT_KEY:
    "Each line of a mapping needs `key: value`; for several commands write `run: |` followed by indented lines.",
  MULTIPLE_DOCS: "Keep a single YAML document: remove the extra `---` line.",
  MISSING_CHAR: "Add the missing closing character (a quote or bracket).",
  BAD_SCALAR_START: "Quote the value: it starts with a character YAML reserves (such as `@`, `` ` ``, `%`, `*` or `&`).",
  UNEXPECTED_TOKEN: "Check the YAML syntax here; quoting the value often helps.",
};

export function yamlError(ctx: ParseContext, e: YAMLError): ConfigError {
  let offset = e.pos[0];
  // An unclosed quote is reported at the end of the file: point at where the string starts.
  if (e.code === "MISSING_CHAR" && /quote/.test(e.message)) {
    const open = findUnclosedQuote(ctx.doc, offset);
    if (open !== undefined) offset = open;
  }
  // Indentation errors point at the start of the line: move to its first character.
  while (ctx.text[offset] === " ") offset++;
  const at = ctx.pos(offset);
  let message = e.message.replace(/\s+at line \d+, column \d+:?[\s\S]*$/, "").trim();
  message = `YAML syntax error: ${message.charAt(0).toLowerCase()}${message.slice(1)}`;
  return { ...at, message, hint: YAML_HINTS[e.code] ?? "Check the YAML syntax at this position; quoting the value often helps." };
}

function findUnclosedQuote(doc: ParsedDoc, end: number): number | undefined {
  let found: number | undefined;
  visit(doc, {
    Scalar(_, node) {
      const r = node.range;
      if (r && (node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE") && r[0] < end && r[1] >= end) found = r[0];
    },
  });
  return found;
}

/** `__proto__` keys: JavaScript objects cannot hold them safely, and zod drops them silently. */
export function reservedKeys(ctx: ParseContext): ConfigError[] {
  const out: ConfigError[] = [];
  visit(ctx.doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.value === "__proto__") {
        out.push({
          ...ctx.pos(pair.key.range?.[0] ?? 0),
          message: "the key `__proto__` is not allowed",
          hint: "Rename or remove it.",
        });
      }
    },
  });
  return out;
}

/** The first alias whose anchor is not defined before it (one pass, in document order). */
export function findBrokenAlias(doc: ParsedDoc): Node | undefined {
  const anchors = new Set<string>();
  let found: Node | undefined;
  visit(doc, (_, node) => {
    if (isAlias(node)) {
      if (!anchors.has(node.source)) {
        found = node;
        return visit.BREAK;
      }
    } else if (isNode(node) && node.anchor) {
      anchors.add(node.anchor);
    }
    return undefined;
  });
  return found;
}
