/**
 * The `.yaci.yml` (version 1) schema: the single source of truth for what a config may contain.
 *
 * `yaciConfigSchema` validates the plain value of a parsed YAML document and transforms it into
 * the normalized {@link YaciConfig} (defaults applied, `run:` shortcut expanded, env merged).
 * `parseConfig` (`parse-config.ts`) adds YAML parsing and turns zod issues into positioned
 * {@link ConfigError}s; `yaciConfigJsonSchema` gives a JSON schema of the file for editors.
 * Problems are reported as described in `messages.ts` ({@link IssueParams}).
 */
import * as z from "zod";
import { CONFIG_LIMITS, envBytes, formatBytes } from "./config-limits.js";
import { DURATION_PATTERN, tryParseDuration } from "./duration.js";
import { MATRIX_EXPR_RE, matrixSchema } from "./matrix.js";
import { addIssue, EMPTY_RULES, ENV_NAME_RE, envNameProblem, FIELD_RULES, showValue, type IssueParams, type Report } from "./messages.js";
import { buildJobs, needsSchema, secretsSchema } from "./pipeline.js";
import { DEFAULT_IMAGE, type ConfigError, type EventFilter, type YaciConfig } from "./yaci-config.js";

export { ENV_NAME_RE } from "./messages.js";

// ---- Syntax of names and quantities (also in the JSON schema as `pattern`) ----

export const JOB_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
/**
 * Kubernetes resource quantity (no sign): `500m`, `1`, `0.5`, `1Gi`, `512Mi`, `1e3`.
 * Group 1 is the number, group 2 the suffix (binary SI, decimal SI or a decimal exponent).
 */
export const QUANTITY_RE = /^(\d+(?:\.\d*)?|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$/;

// ---- Leaf values: durations, images, `env` and `run` ----

const NUL_HINT = "Remove the NUL character (`\\0`): no program takes one in a name, an argument or a variable.";

/** Adds an issue when `text` holds a NUL character; returns whether it did. */
function refuseNul(ctx: z.RefinementCtx, text: string, params: { at?: "key"; what?: string } = {}): boolean {
  if (!text.includes("\0")) return false;
  addIssue(ctx, `${params.what ?? "contains"} a NUL character`, { hint: NUL_HINT, ...(params.at ? { at: params.at } : {}) });
  return true;
}

/** Container image references: registry, path, tag and digest characters only (no shell syntax). */
export const IMAGE_RE = /^[A-Za-z0-9][A-Za-z0-9._\/:@+-]{0,254}$/;

const durationSchema = z
  .string()
  .meta({ pattern: DURATION_PATTERN, description: "A duration: a number followed by s, m or h, combinable (`1h30m`). More than 0, at most 6h.", examples: ["15m", "90s", "1h30m"] })
  .transform((text, ctx): number => {
    const r = tryParseDuration(text);
    if (!r.ok) {
      addIssue(ctx, r.message, { hint: r.hint });
      return z.NEVER;
    }
    return r.ms;
  });

const imageSchema = z
  .string()
  .meta({ description: "Container image (Kubernetes executor).", examples: ["node:22-alpine", "alpine:3.20"] })
  .transform((text, ctx): string => {
    const t = text.trim();
    if (refuseNul(ctx, t)) return z.NEVER;
    // `${{ matrix.node }}` is filled in per combination (`pipeline.ts` checks the result).
    if (!IMAGE_RE.test(t.replace(MATRIX_EXPR_RE, "x"))) {
      addIssue(ctx, `must be a container image name like \`node:22-alpine\`, got ${showValue(text)}`, {
        hint:
          t === "" || /\s/.test(t)
            ? "An image reference has no spaces, e.g. `image: node:22-alpine` or `image: ghcr.io/org/tool:1.2`."
            : "An image reference has letters, digits and `. _ / : @ + -` only (at most 255), e.g. `ghcr.io/org/tool:1.2`.",
      });
      return z.NEVER;
    }
    return t;
  });

const envNameSchema = z.string().meta({ pattern: ENV_NAME_RE.source, maxLength: CONFIG_LIMITS.envNameLength }).superRefine((name, ctx) => {
  const p = envNameProblem(name, CONFIG_LIMITS.envNameLength);
  if (p) addIssue(ctx, p.message, { full: true, at: "key", hint: p.hint });
});

const envValueSchema = z
  .union([z.string(), z.number(), z.boolean()])
  .transform((v) => String(v))
  .superRefine((v, ctx) => void refuseNul(ctx, v));

const envSchema = z
  .record(envNameSchema, envValueSchema)
  .meta({ description: "Environment variables; numbers and booleans become strings.", examples: [{ CI: "true" }] });

const runSchema = z
  .union([z.string(), z.array(z.string())])
  .meta({ description: "Shell script, run with `sh -ec` in the checked-out repository. A list is joined with newlines." })
  .transform((v, ctx): string => {
    const script = Array.isArray(v) ? v.join("\n") : v;
    if (script.trim() === "") {
      addIssue(ctx, EMPTY_RULES.run.message, { hint: EMPTY_RULES.run.hint });
      return z.NEVER;
    }
    if (refuseNul(ctx, script)) return z.NEVER;
    const bytes = Buffer.byteLength(script, "utf8");
    if (bytes > CONFIG_LIMITS.runBytes) {
      addIssue(ctx, `is ${formatBytes(bytes)}, more than the limit of ${formatBytes(CONFIG_LIMITS.runBytes)}`, {
        hint: "Put the script in a file in the repository and run that, e.g. `run: sh ci/build.sh`.",
      });
      return z.NEVER;
    }
    return script;
  });

// ---- `resources:` of a job: Kubernetes CPU and memory quantities ----

const MAX_CPU_CORES = 1024;
const MAX_MEMORY_BYTES = 2 ** 50;
const QUANTITY_SUFFIX: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60, n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** A quantity's value in cores or bytes (Infinity past what a number holds). */
function quantityValue(q: string): number {
  const m = QUANTITY_RE.exec(q);
  if (!m) return NaN;
  const suffix = m[2] ?? "";
  const factor = /^[eE]/.test(suffix) ? 10 ** Number(suffix.slice(1)) : QUANTITY_SUFFIX[suffix]!;
  return Number(m[1]) * factor;
}

function quantitySchema(kind: "cpu" | "memory") {
  const description =
    kind === "cpu" ? "CPU request/limit in cores (`2`, `0.5`) or millicores (`500m`)." : "Memory as a Kubernetes quantity (`512Mi`, `1Gi`).";
  return z
    .union([z.string(), z.number()])
    .meta({ description, examples: kind === "cpu" ? ["500m", "1", 2] : ["512Mi", "1Gi"] })
    .transform((v, ctx): string => {
      const q = String(v).trim();
      const rule = FIELD_RULES[kind];
      if (!QUANTITY_RE.test(q)) {
        let hint: string = rule.hint;
        const bytes = /^(\d+(?:\.\d+)?)\s*([kKmMgGtTpP])i?[bB]$/.exec(q);
        if (kind === "memory" && bytes) hint = `Kubernetes writes bytes without \`B\`: use \`${bytes[1]}${bytes[2]!.toUpperCase()}i\`.`;
        else if (/^-/.test(q)) hint = "Quantities cannot be negative.";
        addIssue(ctx, `must be ${rule.expect}, got ${showValue(v)}`, { hint });
        return z.NEVER;
      }
      if (!/[1-9]/.test(q.replace(/[eE][+-]?\d+$/, ""))) {
        addIssue(ctx, `must be more than 0, got ${showValue(v)}`, { hint: `${rule.hint} Remove \`${kind}\` to use the cluster's default.` });
        return z.NEVER;
      }
      if (kind === "memory" && /^[\d.]+m$/.test(q)) {
        addIssue(ctx, `is ${showValue(q)}, which means millibytes`, { hint: `Did you mean \`${q.slice(0, -1)}Mi\` (mebibytes)?` });
        return z.NEVER;
      }
      if (kind === "cpu" && /i$/.test(q)) {
        addIssue(ctx, `uses a memory unit: ${showValue(q)}`, { hint: "CPU is counted in cores (`1`, `0.5`) or millicores (`500m`)." });
        return z.NEVER;
      }
      const max = kind === "cpu" ? MAX_CPU_CORES : MAX_MEMORY_BYTES;
      if (!(quantityValue(q) <= max)) {
        addIssue(ctx, `is out of range: ${showValue(v)}`, {
          hint: kind === "cpu" ? `Ask for at most ${MAX_CPU_CORES} cores; the operator's cap applies anyway.` : "Ask for at most `1Pi`; the operator's cap applies anyway.",
        });
        return z.NEVER;
      }
      return q;
    });
}

const resourcesShape = {
  cpu: quantitySchema("cpu").optional(),
  memory: quantitySchema("memory").optional(),
};
const resourcesSchema = z
  .strictObject(resourcesShape)
  .meta({ description: "Kubernetes requests and limits of the job's container, capped by the operator (default: the operator's YACI_DEFAULT_CPU / YACI_DEFAULT_MEMORY). The local executor ignores them." });

// ---- `jobs:`: job names and the fields of one job ----

const jobShape = {
  run: runSchema,
  image: imageSchema.optional().meta({ description: "Container image of this job (Kubernetes executor; default: the top-level `image`)." }),
  timeout: durationSchema
    .optional()
    .meta({ description: "Timeout of this job (default: the top-level `timeout`, else 1h; at most 6h). Over it the job is stopped: `timed_out`." }),
  env: envSchema.optional().meta({ description: "Environment variables of this job, merged over the top-level `env` (the job's win).", default: {} }),
  resources: resourcesSchema.optional(),
  needs: needsSchema.optional(),
  matrix: matrixSchema.optional(),
  secrets: secretsSchema.optional().meta({ description: "Secrets of this job, added to the top-level `secrets`: each becomes an environment variable. Kept in YACI's store (`yaci secret set`), never given to pull requests from forks." }),
};
const jobSchema = z.strictObject(jobShape);

const jobNameSchema = z.string().meta({ pattern: JOB_NAME_RE.source }).superRefine((name, ctx) => {
  if (!JOB_NAME_RE.test(name)) {
    addIssue(ctx, `job name ${showValue(name)} is not allowed: job names become check-run names`, {
      full: true,
      at: "key",
      hint: "Use 1 to 63 letters, digits, `_`, `.` or `-`, starting with a letter or digit, e.g. `unit-tests`.",
    });
  }
});

const jobsSchema = z
  .record(jobNameSchema, jobSchema)
  .meta({ description: `Jobs by name (at most ${CONFIG_LIMITS.jobs}); each name becomes a check run.`, maxProperties: CONFIG_LIMITS.jobs })
  .superRefine((jobs, ctx) => {
    const names = Object.keys(jobs);
    // (A job whose name was refused is missing here: then the name's error says it all.)
    if (names.length === 0 && ctx.issues.length === 0) addIssue(ctx, EMPTY_RULES.jobs.message, { hint: EMPTY_RULES.jobs.hint });
    // Check runs and run records do not tell `test` from `Test`: the second would never run.
    const first = new Map<string, string>();
    for (const name of names) {
      const other = first.get(name.toLowerCase());
      if (other === undefined) first.set(name.toLowerCase(), name);
      else {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `job name ${showValue(name)} differs from job ${showValue(other)} only in case`,
          params: { full: true, at: "key", hint: `Rename one of them: YACI does not tell ${showValue(other)} and ${showValue(name)} apart.` } satisfies IssueParams,
        });
      }
    }
    // Also when a job has other problems: the names alone decide this one.
  }, { when: (payload) => isObject(payload.value) });

// ---- `on:`: which events (and branches) run the jobs ----

const EVENT_NAMES = ["push", "pull_request"] as const;

const branchPatternSchema = z.string().superRefine((p, ctx) => {
  if (refuseNul(ctx, p)) return;
  if (p.length > CONFIG_LIMITS.branchPatternLength) {
    addIssue(ctx, `is ${p.length} characters long, more than ${CONFIG_LIMITS.branchPatternLength}`, { hint: "Branch names are short: use a shorter pattern such as `\"release/**\"`." });
  } else if (p.trim() === "" || /\s/.test(p)) {
    addIssue(ctx, `must be a branch name or glob pattern, got ${showValue(p)}`, { hint: "Branch patterns have no spaces, e.g. `main` or `\"release/*\"`." });
  } else if (p.startsWith("!")) {
    addIssue(ctx, `is a negated pattern (${showValue(p)}), which is not supported`, { hint: "List the branches that should run instead." });
  }
});

const branchesSchema = z
  .union([branchPatternSchema, z.array(branchPatternSchema)])
  .meta({ description: "Branch globs: `*` matches within a path segment, `**` matches anything (default: every branch).", default: ["**"] })
  .transform((v, ctx): string[] => {
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0) {
      addIssue(ctx, EMPTY_RULES.branches.message, { hint: EMPTY_RULES.branches.hint });
      return z.NEVER;
    }
    if (list.length > CONFIG_LIMITS.branchPatterns) {
      addIssue(ctx, `lists ${list.length} patterns, more than the limit of ${CONFIG_LIMITS.branchPatterns}`, { hint: "Use globs such as `\"release/**\"` to cover many branches with one pattern." });
      return z.NEVER;
    }
    return list;
  });

const eventFilterShape = { branches: branchesSchema.optional() };
const eventFilterSchema = z
  .strictObject(eventFilterShape)
  .nullable()
  .transform((f): EventFilter => (f?.branches ? { branches: f.branches } : {}));

const eventNameSchema = z.enum(EVENT_NAMES);

const onShape = {
  push: eventFilterSchema
    .optional()
    .meta({ description: "Run on pushes; `branches` filters the pushed branch (empty or no `branches`: every branch)." }),
  pull_request: eventFilterSchema
    .optional()
    .meta({ description: "Run on pull requests (opened, synchronized, reopened); `branches` filters the base branch (empty or no `branches`: every branch)." }),
};

type On = YaciConfig["on"];

const onSchema = z
  .union([eventNameSchema, z.array(eventNameSchema), z.strictObject(onShape)])
  .meta({ description: "Events that run the jobs (default: every push and every pull request)." })
  .transform((v, ctx): On => {
    const out: On = {};
    if (typeof v === "string") out[v] = {};
    else if (Array.isArray(v)) for (const e of v) out[e] = {};
    else {
      if (v.push !== undefined) out.push = v.push;
      if (v.pull_request !== undefined) out.pull_request = v.pull_request;
    }
    // Unknown keys (reported on their own) would otherwise make a mapping look empty.
    if (!out.push && !out.pull_request && ctx.issues.length === 0) {
      addIssue(ctx, EMPTY_RULES.on.message, { hint: EMPTY_RULES.on.hint });
      return z.NEVER;
    }
    return out;
  });

// ---- The top level ----

const topLevelShape = {
  version: z.literal(1).optional().meta({ description: "Config format version; only 1 exists.", default: 1 }),
  image: imageSchema.optional().meta({ description: `Default container image of every job (default ${DEFAULT_IMAGE}).`, default: DEFAULT_IMAGE }),
  timeout: durationSchema.optional().meta({ description: "Default timeout of every job (default 1h, at most 6h).", default: "1h" }),
  env: envSchema.optional().meta({ description: "Environment variables of every job; numbers and booleans become strings.", default: {} }),
  on: onSchema.optional().meta({ description: "Events that run the jobs (default: every push and every pull request).", default: ["push", "pull_request"] }),
  cancel_superseded: z
    .boolean()
    .optional()
    .meta({ description: "Cancel still-running jobs of older commits on the same branch or pull request (default true).", default: true }),
  secrets: secretsSchema.optional().meta({ description: "Secrets of every job: each becomes an environment variable. Kept in YACI's store (`yaci secret set`), never given to pull requests from forks." }),
  run: runSchema.optional().meta({ description: "Shortest form: one command, run as a single job named `build`. Use either `run` or `jobs`." }),
  jobs: jobsSchema.optional(),
};

/** Keys allowed at each level, for unknown-key errors and did-you-mean hints. */
export const KNOWN_KEYS = {
  top: Object.keys(topLevelShape),
  job: Object.keys(jobShape),
  resources: Object.keys(resourcesShape),
  on: Object.keys(onShape),
  eventFilter: Object.keys(eventFilterShape),
} as const;

// ---- Normalization: defaults applied, env merged, matrices expanded (`pipeline.ts`) ----

/** The output of the top-level shape, before normalization. */
type RawConfig = z.output<z.ZodObject<typeof topLevelShape, z.core.$strict>>;

function normalizeConfig(raw: RawConfig, ctx: z.RefinementCtx): YaciConfig {
  const report: Report = (path, message, params) => ctx.addIssue({ code: "custom", path, message, params: { ...params } });
  const jobs = buildJobs(raw, report, (ref) => IMAGE_RE.test(ref));
  if (!jobs) return z.NEVER;
  return {
    version: 1,
    on: raw.on ?? { push: {}, pull_request: {} },
    jobs,
    cancelSuperseded: raw.cancel_superseded ?? true,
  };
}

/** Each job's environment (the top-level `env` merged with the job's) must fit the limit. */
function refuseLargeEnvironments(v: RawConfig, ctx: z.RefinementCtx): void {
  const top = v.env ?? {};
  const limit = CONFIG_LIMITS.envBytes;
  const report = (path: (string | number)[], bytes: number, job?: string) =>
    ctx.addIssue({
      code: "custom",
      path,
      message: `is ${formatBytes(bytes)}${job ? ` in job ${showValue(job)} (with the top-level \`env\`)` : ""}, more than the limit of ${formatBytes(limit)} per job`,
      params: { hint: "Keep large data in files in the repository, not in environment variables." } satisfies IssueParams,
    });
  const topBytes = envBytes(top);
  if (topBytes > limit) return report(["env"], topBytes);
  for (const [name, job] of Object.entries(v.jobs ?? {})) {
    if (!job.env) continue;
    const bytes = envBytes({ ...top, ...job.env });
    if (bytes > limit) report(["jobs", name, "env"], bytes, name);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Validates the plain value of a `.yaci.yml` and produces the normalized {@link YaciConfig}. */
export const yaciConfigSchema = z
  .strictObject(topLevelShape)
  .meta({
    title: "YACI configuration (.yaci.yml)",
    description: "Either `run:` (one job named `build`) or `jobs:` (named jobs).",
    oneOf: [{ required: ["run"] }, { required: ["jobs"] }],
  })
  .refine((v) => !(v.run !== undefined && v.jobs !== undefined), {
    when: (payload) => isObject(payload.value),
    path: ["run"],
    error: "`run` and `jobs` cannot be used together",
    params: {
      full: true,
      at: "key",
      hint: "Use `run:` alone for a single job, or move the command into a job under `jobs:` (e.g. `jobs: { build: { run: ... } }`).",
    } satisfies IssueParams,
  })
  .superRefine(refuseLargeEnvironments)
  .refine((v) => !(v.run === undefined && v.jobs === undefined), {
    when: (payload) => isObject(payload.value) && !("run" in payload.value) && !("jobs" in payload.value),
    error: "nothing to run: the file has neither `run:` nor `jobs:`",
    params: {
      full: true,
      hint: "Add `run: <command>` for a single job, or `jobs:` with one or more named jobs.",
    } satisfies IssueParams,
  })
  .transform(normalizeConfig);

/** The JSON schema of `.yaci.yml` (the input side: what a user writes). */
export function yaciConfigJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(yaciConfigSchema, {
    io: "input",
    // zod drops `default` from transformed fields in an input schema; a default is what a user
    // gets by leaving the key out, which editors show: keep the one given in `.meta()`.
    override: ({ zodSchema, jsonSchema }) => {
      const meta = z.globalRegistry.get(zodSchema as unknown as z.ZodType);
      if (meta && "default" in meta && !("default" in jsonSchema)) jsonSchema.default = meta.default;
    },
  }) as Record<string, unknown>;
}
