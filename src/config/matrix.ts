/**
 * `jobs.<name>.matrix`: the combinations a matrix makes, as GitHub Actions defines them
 * (`strategy.matrix`), and the `${{ matrix.<key> }}` expressions of a job's `image`, `env` and `run`.
 *
 * The combinations are the product of the keys' value lists (the first key varies slowest);
 * `exclude` removes each combination that matches all key/values of an entry (a partial match);
 * then each `include` entry is added to every combination whose ORIGINAL matrix values it does not
 * change (values added by an earlier `include` may be overwritten), or, if it fits none, becomes a
 * combination of its own. Also the zod schema of `matrix:` (each value checked on its own;
 * `pipeline.ts` counts combinations and checks names across the file).
 */
import * as z from "zod";
import { CONFIG_LIMITS, envBytes, formatBytes } from "./config-limits.js";
import { addIssue, didYouMean, inlineCode, showValue, type IssueParams, type Report } from "./messages.js";
import type { JobConfig } from "./yaci-config.js";

/** A validated `matrix:` mapping, keys in the file's order. */
export interface MatrixInput {
  /** The keys with value lists, in the file's order. */
  keys: string[];
  /** The values of each key (same order as `keys`), stringified. */
  values: string[][];
  include: Record<string, string>[];
  exclude: Record<string, string>[];
}

export type Combination = Record<string, string>;

/** Base combinations (before `exclude`) YACI enumerates at most; the limit after it is 256. */
export const MATRIX_PRODUCT_LIMIT = 4096;

/** Combinations of the keys' lists before `exclude` (may be huge: not enumerated). */
export function baseCount(m: MatrixInput): number {
  if (m.keys.length === 0) return 0;
  return m.values.reduce((n, list) => n * list.length, 1);
}

function matches(combo: Combination, entry: Record<string, string>, only?: ReadonlySet<string>): boolean {
  for (const [k, v] of Object.entries(entry)) {
    if (only && !only.has(k)) continue;
    if (!Object.hasOwn(combo, k) || combo[k] !== v) return false;
  }
  return true;
}

/**
 * The combinations, in GitHub's order: the product (first key slowest) minus `exclude`, then
 * `include` entries that fit no combination, in their order. Call only when
 * `baseCount(m) <= MATRIX_PRODUCT_LIMIT`.
 */
export function expandMatrix(m: MatrixInput): Combination[] {
  let combos: Combination[] = m.keys.length > 0 ? [{}] : [];
  m.keys.forEach((key, i) => {
    const next: Combination[] = [];
    for (const c of combos) for (const v of m.values[i]!) next.push({ ...c, [key]: v });
    combos = next;
  });
  if (m.exclude.length > 0) combos = combos.filter((c) => !m.exclude.some((e) => matches(c, e)));
  const original = new Set(m.keys);
  const added: Combination[] = [];
  for (const entry of m.include) {
    let fitted = false;
    for (const c of combos) {
      if (!matches(c, entry, original)) continue;
      Object.assign(c, entry);
      fitted = true;
    }
    if (!fitted) added.push({ ...entry });
  }
  return [...combos, ...added];
}

/** Every key a combination may have: the matrix keys, then keys only `include` adds (first seen first). */
export function matrixKeys(m: MatrixInput): string[] {
  const keys = new Set(m.keys);
  for (const entry of m.include) for (const k of Object.keys(entry)) keys.add(k);
  return [...keys];
}

/** `test (20, pg)`: the job's name and the combination's values in key order. */
export function combinationName(job: string, combo: Combination, keys: readonly string[]): string {
  const values = keys.filter((k) => Object.hasOwn(combo, k)).map((k) => combo[k]!);
  return `${job} (${values.join(", ")})`;
}

/** `MATRIX_NODE` for key `node`: uppercased, characters outside `[A-Z0-9_]` become `_`. */
export function matrixEnvName(key: string): string {
  return `MATRIX_${key.toUpperCase().replace(/[^A-Z0-9_]/g, "_")}`;
}

// ---- `${{ matrix.<key> }}` expressions ----

/** `${{ matrix.node }}`, whitespace inside the braces allowed. Group 1 is the key. */
export const MATRIX_EXPR_RE = /\$\{\{\s*matrix\.([A-Za-z0-9_-]+)\s*\}\}/g;

/** A text split at its matrix expressions: literal parts with the keys between them. */
export interface Template {
  parts: string[];
  /** UTF-8 bytes of the literal parts. */
  partBytes: number;
  keys: string[];
  /** Each expression as written, for errors that point at it. */
  exprs: string[];
}

/** The matrix expressions of `text`, or undefined when it has none (the common case: no copy). */
export function parseTemplate(text: string): Template | undefined {
  if (!text.includes("${{")) return undefined;
  const parts: string[] = [];
  const keys: string[] = [];
  const exprs: string[] = [];
  let last = 0;
  for (const m of text.matchAll(MATRIX_EXPR_RE)) {
    parts.push(text.slice(last, m.index));
    keys.push(m[1]!);
    exprs.push(m[0]);
    last = m.index + m[0].length;
  }
  if (keys.length === 0) return undefined;
  parts.push(text.slice(last));
  return { parts, partBytes: parts.reduce((n, p) => n + Buffer.byteLength(p, "utf8"), 0), keys, exprs };
}

/**
 * UTF-8 bytes of the filled text, from the parts and the values' sizes (`valueBytes`): counting
 * the filled text itself would copy it (a matrix's strings stay ropes until a job runs).
 */
export function filledBytes(t: Template, combo: Combination, valueBytes: (v: string) => number): number {
  let n = t.partBytes;
  for (const key of t.keys) if (Object.hasOwn(combo, key)) n += valueBytes(combo[key]!);
  return n;
}

/** The text with each expression replaced by the combination's value (`""` for a key it lacks). */
export function fillTemplate(t: Template, combo: Combination): string {
  let out = t.parts[0]!;
  for (let i = 0; i < t.keys.length; i++) {
    const key = t.keys[i]!;
    out += (Object.hasOwn(combo, key) ? combo[key]! : "") + t.parts[i + 1]!;
  }
  return out;
}

// ---- A job's combinations as final jobs ----

type PathSegment = string | number;

/** What expanding a job reads: the job with defaults applied, and where its values are written. */
export interface MatrixJob {
  base: JobConfig;
  matrix?: MatrixInput | undefined;
  /** Path of the job (`[]` for the short form) and of the values it may have inherited. */
  at: PathSegment[];
  imageAt: PathSegment[];
  envAt: (name: string) => PathSegment[];
}

/** The combinations of a job's matrix, or undefined (reported) when there are none or too many. */
export function combinationsOf(j: MatrixJob, m: MatrixInput, fail: Report): Combination[] | undefined {
  const at = [...j.at, "matrix"];
  const limit = CONFIG_LIMITS.matrixCombinations;
  const tooMany = (n: number) =>
    fail(at, `the matrix of job ${inlineCode(j.base.name)} makes ${n > 1e6 ? "over a million" : n.toLocaleString("en-US")} combinations, more than the limit of ${limit}`, {
      full: true,
      at: "key",
      hint: `Trim the lists, or remove combinations with \`exclude\` (at most ${limit} combinations, and ${MATRIX_PRODUCT_LIMIT.toLocaleString("en-US")} before \`exclude\`).`,
    });
  const base = baseCount(m);
  if (base > MATRIX_PRODUCT_LIMIT) return void tooMany(base);
  const list = expandMatrix(m);
  if (list.length > limit) return void tooMany(list.length);
  if (list.length === 0) {
    fail(at, `the matrix of job ${inlineCode(j.base.name)} excludes every combination`, {
      full: true,
      at: "key",
      hint: "Remove an `exclude` entry, or the `matrix` if the job should run once.",
    });
    return undefined;
  }
  return list;
}

/** A job's value that may hold `${{ matrix.<key> }}`, with where it is written. */
interface Field {
  text: string;
  template: Template | undefined;
  at: PathSegment[];
}

/** The job's final jobs: itself, or one per combination (expressions filled, `MATRIX_*` set). */
export function expandJob(j: MatrixJob, combos: Combination[] | undefined, fail: Report, isImage: (ref: string) => boolean): JobConfig[] {
  const { base } = j;
  const field = (text: string, at: PathSegment[]): Field => ({ text, template: parseTemplate(text), at });
  const run = field(base.run, [...j.at, "run"]);
  const image = field(base.image, j.imageAt);
  const env = Object.entries(base.env).map(([k, v]) => [k, field(v, j.envAt(k))] as const);
  const keys = j.matrix ? matrixKeys(j.matrix) : [];
  const known = new Set(keys);
  let bad = false;
  const fields = [run, image, ...env.map(([, f]) => f)];
  // Each expression is filled once per combination: keep that work (and the job's strings) small.
  let count = 0;
  for (const f of fields) {
    count += f.template?.keys.length ?? 0;
    if (count <= CONFIG_LIMITS.matrixExpressions) continue;
    fail(f.at, `job ${inlineCode(base.name)} uses \`\${{ matrix.<key> }}\` more than ${CONFIG_LIMITS.matrixExpressions} times`, {
      full: true,
      find: f.template!.exprs[0]!,
      hint: "In `run`, use the variables instead: `$MATRIX_NODE` for `${{ matrix.node }}`.",
    });
    return [base];
  }
  for (const f of fields) {
    f.template?.keys.forEach((key, i) => {
      if (known.has(key)) return;
      bad = true;
      const expr = f.template!.exprs[i]!;
      const close = didYouMean(key, keys);
      fail(f.at, j.matrix ? `${inlineCode(expr)}: ${showValue(key)} is not a key of the matrix of job ${inlineCode(base.name)}` : `${inlineCode(expr)}: job ${inlineCode(base.name)} has no \`matrix\``, {
        full: true,
        find: expr,
        hint: !j.matrix ? "Add a `matrix:` to the job, or remove the expression." : close ? `Did you mean \`\${{ matrix.${close} }}\`?` : `The matrix's keys: ${keys.map(inlineCode).join(", ")}.`,
      });
    });
  }
  for (const key of keys) {
    const name = matrixEnvName(key);
    if (!Object.hasOwn(base.env, name)) continue;
    bad = true;
    fail(j.envAt(name), `\`${name}\` is set by the matrix of job ${inlineCode(base.name)}`, { full: true, at: "key", hint: `Remove it from \`env\`: each combination's \`${key}\` is in \`$${name}\`.` });
  }
  if (bad || !combos) return [base];

  const fixedEnv: Record<string, string> = {};
  for (const [k, f] of env) if (!f.template) fixedEnv[k] = f.text;
  const fixedBytes = envBytes(fixedEnv);
  const sizes = new Map<string, number>();
  const valueBytes = (v: string) => {
    let n = sizes.get(v);
    if (n === undefined) sizes.set(v, (n = Buffer.byteLength(v, "utf8")));
    return n;
  };
  const reported = new Set<string>();
  const once = (what: string, ...args: Parameters<Report>) => {
    if (reported.has(what)) return;
    reported.add(what);
    fail(...args);
  };
  return combos.map((combo): JobConfig => {
    const name = combinationName(base.name, combo, keys);
    const out: JobConfig = { ...base, name, image: image.text, run: run.text, env: {} };
    if (image.template) {
      out.image = fillTemplate(image.template, combo).trim();
      if (!isImage(out.image)) {
        once("image", image.at, `\`image\` is ${showValue(out.image)} in ${showValue(name)}, not a container image name`, {
          full: true,
          find: image.template.exprs[0]!,
          hint: "The matrix values used in `image` must make an image reference such as `node:22-alpine`.",
        });
      }
    }
    if (run.template) {
      out.run = fillTemplate(run.template, combo);
      const bytes = filledBytes(run.template, combo, valueBytes);
      if (bytes > CONFIG_LIMITS.runBytes) {
        once("run", run.at, `\`run\` is ${formatBytes(bytes)} in ${showValue(name)}, more than the limit of ${formatBytes(CONFIG_LIMITS.runBytes)}`, {
          full: true,
          hint: "Put the script in a file in the repository and run that, e.g. `run: sh ci/build.sh`.",
        });
      }
    }
    let bytes = fixedBytes;
    const matrix: Record<string, string> = {};
    for (const [k, f] of env) {
      const v = f.template ? fillTemplate(f.template, combo) : f.text;
      out.env[k] = v;
      if (f.template) bytes += valueBytes(k) + filledBytes(f.template, combo, valueBytes) + 2;
    }
    for (const k of keys) {
      if (!Object.hasOwn(combo, k)) continue;
      matrix[k] = combo[k]!;
      out.env[matrixEnvName(k)] = combo[k]!;
      bytes += matrixEnvName(k).length + valueBytes(combo[k]!) + 2;
    }
    if (bytes > CONFIG_LIMITS.envBytes) {
      once("env", [...j.at, "matrix"], `the environment of ${showValue(name)} is ${formatBytes(bytes)}, more than the limit of ${formatBytes(CONFIG_LIMITS.envBytes)} per job`, {
        full: true,
        at: "key",
        hint: "Keep large data in files in the repository, not in environment variables or matrix values.",
      });
    }
    out.matrix = matrix;
    return out;
  });
}

// ---- The zod schema of `matrix:` ----

export const MATRIX_KEY_RE = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
const KEY_HINT = "Use 1 to 64 letters, digits, `_` or `-`, starting with a letter or `_`, e.g. `node`.";

function issue(ctx: z.RefinementCtx, path: (string | number)[], message: string, params: IssueParams): void {
  ctx.addIssue({ code: "custom", path, message, params: { ...params } });
}

const matrixKeySchema = z.string().meta({ pattern: MATRIX_KEY_RE.source }).superRefine((key, ctx) => {
  if (!MATRIX_KEY_RE.test(key)) addIssue(ctx, `matrix key ${showValue(key)} is not valid`, { full: true, at: "key", hint: KEY_HINT });
});

const matrixValueSchema = z
  .union([z.string(), z.number(), z.boolean()])
  .transform((v) => String(v))
  .superRefine((v, ctx) => {
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(v)) addIssue(ctx, `must be one line of text, got ${showValue(v)}`, { hint: "Matrix values become part of job names: remove line breaks and control characters." });
  });

const matrixEntrySchema = z.record(matrixKeySchema, matrixValueSchema);
const matrixEntriesSchema = z.array(matrixEntrySchema);

const RESERVED = ["include", "exclude"];

/** The matrix's own keys (not `include`/`exclude`), in the file's order. */
function ownKeys(m: Record<string, unknown>): string[] {
  return Object.keys(m).filter((k) => !RESERVED.includes(k));
}

export const matrixSchema = z
  .object({
    include: matrixEntriesSchema.optional().meta({ description: "Combinations to extend or add, as in GitHub Actions: an entry extends every combination whose matrix values it keeps, else it is added as a combination of its own." }),
    exclude: matrixEntriesSchema.optional().meta({ description: "Combinations to remove: each entry removes every combination that has all of its values (a partial match)." }),
  })
  .catchall(z.array(matrixValueSchema))
  .meta({
    description: "Run the job once per combination of these values (at most 256), named `job (v1, v2)`; each sees `MATRIX_<KEY>` and `${{ matrix.<key> }}` in `image`, `env` and `run`.",
    examples: [{ node: ["20", "22"], db: ["pg", "mysql"], exclude: [{ node: "20", db: "mysql" }] }],
  })
  .superRefine((m, ctx) => {
    const keys = ownKeys(m);
    const envNames = new Map<string, string>();
    for (const key of keys) {
      if (!MATRIX_KEY_RE.test(key)) {
        issue(ctx, [key], `matrix key ${showValue(key)} is not valid`, { full: true, at: "key", hint: KEY_HINT });
        continue;
      }
      const list = m[key] as string[];
      if (list.length === 0) issue(ctx, [key], "is an empty list, so the matrix has no combinations", { hint: `List at least one value, e.g. \`${key}: ["1"]\`, or remove \`${key}\`.` });
      const env = matrixEnvName(key);
      const other = envNames.get(env);
      if (other !== undefined) {
        issue(ctx, [key], `matrix keys ${showValue(other)} and ${showValue(key)} both become the variable \`${env}\``, { full: true, at: "key", hint: "Rename one of them." });
      } else envNames.set(env, key);
    }
    if (keys.length === 0 && (m.include ?? []).length === 0) {
      addIssue(ctx, "has no keys, so it makes no combinations", { hint: "Add a key with a list of values, e.g. `matrix: { node: [\"20\", \"22\"] }`, or remove `matrix`." });
    }
    const known = new Set(keys);
    for (const [list, name] of [[m.include, "include"], [m.exclude, "exclude"]] as const) {
      (list ?? []).forEach((entry, i) => {
        if (Object.keys(entry).length === 0) issue(ctx, [name, i], "is empty", { hint: `Give the ${name}d combination's values, e.g. \`- { node: "22", db: pg }\`.` });
        if (name !== "exclude") return;
        for (const k of Object.keys(entry)) {
          if (known.has(k)) continue;
          const close = didYouMean(k, keys);
          issue(ctx, [name, i, k], `\`exclude\` key ${showValue(k)} is not a key of the matrix`, {
            full: true,
            at: "key",
            hint: close ? `Did you mean \`${close}\`?` : `Exclude by the matrix's keys: ${keys.map((x) => `\`${x}\``).join(", ") || "(none)"}.`,
          });
        }
      });
    }
  })
  .transform((m): MatrixInput => {
    const keys = ownKeys(m);
    return { keys, values: keys.map((k) => m[k] as string[]), include: m.include ?? [], exclude: m.exclude ?? [] };
  });

