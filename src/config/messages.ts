/**
 * How problems in `.yaci.yml` are worded, shared by the schema (`schema.ts`), the error builders
 * (`config-errors.ts`), `duration.ts` and `format-config-errors.ts`.
 *
 * Every value-level problem the schema finds is a `custom` zod issue whose `message` completes the
 * sentence "`<path>` …" (e.g. "must be at most 6h, got `7h`") and whose `params.hint` says how to
 * fix it ({@link IssueParams}). Type mismatches are left to zod and explained by
 * {@link FIELD_RULES}; empty lists and mappings by {@link EMPTY_RULES}.
 */
import { distance } from "fastest-levenshtein";
import type * as z from "zod";

/** A Markdown code span that survives backticks in `text` (and never spans lines). */
export function inlineCode(text: string): string {
  // Control characters (a NUL, an escape) would break the Markdown or the API request: show them.
  // eslint-disable-next-line no-control-regex
  const oneLine = text.replace(/\r?\n/g, "⏎").replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  if (oneLine === "") return "` `";
  const longest = Math.max(0, ...(oneLine.match(/`+/g) ?? []).map((r) => r.length));
  const fence = "`".repeat(longest + 1);
  const pad = oneLine.startsWith("`") || oneLine.endsWith("`") ? " " : "";
  return `${fence}${pad}${oneLine}${pad}${fence}`;
}

/** A value as the user wrote it, as inline code, cut to 60 characters. */
export function showValue(value: unknown): string {
  const s = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  return inlineCode(s.length > 60 ? `${s.slice(0, 57)}...` : s);
}

/**
 * Issue parameters understood by `config-errors.ts`. `full: true` marks a message that is a whole
 * sentence; `at: "key"` points the error at the key rather than the value.
 */
export interface IssueParams {
  hint: string;
  full?: boolean;
  at?: "key";
  /** Point at this text inside the value (e.g. one `${{ matrix.x }}` in a `run` script). */
  find?: string;
}

/** Reports a problem about the value at `path` (checks that need the whole file: `pipeline.ts`). */
export type Report = (path: (string | number)[], message: string, params: IssueParams) => void;

/** Adds a `custom` issue with {@link IssueParams} to a zod refinement. */
export function addIssue(ctx: z.RefinementCtx, message: string, params: IssueParams): void {
  ctx.addIssue({ code: "custom", message, params: { ...params } });
}

/**
 * How to explain a type mismatch for each kind of field: `config-errors.ts` writes
 * "`<path>` must be <expect>, got <what was there>" and adds the hint.
 */
export const FIELD_RULES = {
  top: { expect: "a mapping with `run:` or `jobs:`", hint: "Start the file with `run: <command>` for a single job, or `jobs:` with named jobs." },
  version: { expect: "1", hint: "Write `version: 1` or remove the line: 1 is the only version." },
  image: { expect: "a container image name like `node:22-alpine`", hint: "Write an image reference such as `image: node:22-alpine`." },
  timeout: { expect: "a duration like 15m", hint: "Write a number followed by s, m or h, e.g. `90s`, `15m` or `1h30m` (at most 6h)." },
  env: { expect: "a mapping of variable names to values", hint: "Write one `NAME: value` per line under `env:`, e.g. `env: { CI: \"true\" }`." },
  envValue: { expect: "a string, number or boolean", hint: "Quote the value, e.g. `FOO: \"bar\"`; for an empty value write `FOO: \"\"`." },
  on: { expect: "`push`, `pull_request`, a list of them, or a mapping of event to filter", hint: "Write e.g. `on: { push: { branches: [main] }, pull_request: {} }`, or remove `on:` to run on every push and pull request." },
  event: { expect: "`push` or `pull_request`", hint: "YACI runs on `push` and `pull_request` events." },
  eventFilter: { expect: "a mapping with `branches:` (or empty for every branch)", hint: "Write e.g. `push: { branches: [main, \"release/*\"] }`, or `push: {}` for every branch." },
  branches: { expect: "a branch pattern or a list of them", hint: "Write e.g. `branches: [main, \"release/*\"]`; remove `branches` to run on every branch." },
  branch: { expect: "a branch name or glob pattern", hint: "Write a branch name such as `main`, or a glob such as `\"release/*\"` (quote patterns that start with `*`)." },
  cancel_superseded: { expect: "`true` or `false`", hint: "Write `cancel_superseded: true` or `cancel_superseded: false`." },
  run: { expect: "a shell command or script", hint: "Write `run: npm test`, or `run: |` followed by indented lines for several commands." },
  runLine: { expect: "a string (one command)", hint: "Quote the command if it contains `: ` or starts with a special character, e.g. `- \"echo a: b\"`." },
  jobs: { expect: "a mapping of job names to jobs", hint: "Write `jobs:` followed by indented job names, each with its own `run:`." },
  job: { expect: "a mapping with `run:`", hint: "Write the job name, then indented below it `run: <command>` (and optionally `image:`, `timeout:`, `env:`, `resources:`)." },
  resources: { expect: "a mapping with `cpu:` and/or `memory:`", hint: "Write e.g. `resources: { cpu: \"1\", memory: 1Gi }`." },
  cpu: { expect: "a CPU quantity like `500m`, `1` or `2`", hint: "Write cores as a number (`1`, `0.5`) or millicores (`500m`)." },
  memory: { expect: "a memory quantity like `512Mi` or `1Gi`", hint: "Write a Kubernetes quantity such as `512Mi` or `2Gi`." },
  needs: { expect: "a job name or a list of job names", hint: "Write e.g. `needs: build` or `needs: [build, lint]`." },
  need: { expect: "a job name", hint: "Write the name of another job of this file, e.g. `needs: [build]`." },
  matrix: { expect: "a mapping of keys to lists of values", hint: "Write e.g. `matrix: { node: [\"20\", \"22\"], db: [pg, mysql] }`." },
  matrixValues: { expect: "a list of values", hint: "Write the key's values as a list, e.g. `node: [\"20\", \"22\"]`." },
  matrixValue: { expect: "a string, number or boolean", hint: "Matrix values are plain values such as `\"22\"` or `pg`." },
  matrixEntries: { expect: "a list of combinations", hint: "Write e.g. `include: [{ node: \"22\", experimental: true }]`." },
  matrixEntry: { expect: "a mapping of matrix keys to values", hint: "Write each combination as a mapping, e.g. `- { node: \"20\", db: mysql }`." },
  secrets: { expect: "a list of secret names", hint: "Write e.g. `secrets: [NPM_TOKEN, DEPLOY_KEY]`." },
  secret: { expect: "a secret name", hint: "Write the secret's name, e.g. `NPM_TOKEN`." },
} as const satisfies Record<string, { expect: string; hint: string }>;
export type FieldKind = keyof typeof FIELD_RULES;

/** Messages for empty lists / mappings that would make a config do nothing. */
export const EMPTY_RULES = {
  on: { message: "lists no events, so nothing would ever run", hint: "List `push` and/or `pull_request`, or remove `on:` to run on both." },
  branches: { message: "is empty, so it matches no branch", hint: "List at least one branch pattern, or remove `branches` to run on every branch." },
  run: { message: "is empty", hint: "Write the command(s) to run, e.g. `run: npm test`." },
  jobs: { message: "has no jobs", hint: "Add at least one job, e.g. `jobs: { test: { run: npm test } }`, or use `run:` for a single job." },
};

/** The closest candidate within edit distance 2 (case and `-`/`_` are ignored). */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/-/g, "_");
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(norm(word), norm(c));
    if (d < bestD && d <= Math.min(2, Math.max(1, c.length - 1))) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Why `name` cannot name an environment variable (length, characters), or undefined when it can. */
export function envNameProblem(name: string, maxLength: number): { message: string; hint: string } | undefined {
  if (name.length > maxLength) {
    return { message: `environment variable name ${showValue(name)} is ${name.length} characters long, more than ${maxLength}`, hint: "Use a short name such as `MY_VAR`." };
  }
  if (!ENV_NAME_RE.test(name) || name === "__proto__") {
    return { message: `environment variable name ${showValue(name)} is not valid`, hint: "Use letters, digits and `_` only, not starting with a digit, e.g. `MY_VAR`." };
  }
  return undefined;
}
