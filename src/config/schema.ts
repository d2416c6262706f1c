/**
 * The `.yaci.yml` (version 1) schema: the single source of truth for what a config may contain.
 *
 * `yaciConfigSchema` validates the plain value of a parsed YAML document and transforms it into
 * the normalized {@link YaciConfig} (defaults applied, `run:` shortcut expanded, env merged).
 * `parseConfig` adds YAML parsing and turns zod issues into positioned {@link ConfigError}s;
 * `z.toJSONSchema(yaciConfigSchema, { io: "input" })` (see `yaciConfigJsonSchema`) gives a JSON
 * schema of the file for editors.
 *
 * Conventions for issues raised here (read by `parse-config.ts`): every value-level problem is a
 * `custom` issue whose `message` completes the sentence "`<path>` …" (e.g. "must be at most 6h,
 * got `7h`") and whose `params.hint` says how to fix it. `params.full: true` marks a message that
 * is a whole sentence; `params.at: "key"` points the error at the key rather than the value.
 * Type mismatches are left to zod and explained by {@link FIELD_RULES}.
 */
import * as z from "zod";
import { DURATION_PATTERN, tryParseDuration } from "./duration.js";
import { inlineCode } from "./format-config-errors.js";
import {
  DEFAULT_IMAGE,
  DEFAULT_TIMEOUT_MS,
  type EventFilter,
  type JobConfig,
  type JobResources,
  type YaciConfig,
} from "./yaci-config.js";

export const JOB_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Kubernetes resource quantity (no sign): `500m`, `1`, `0.5`, `1Gi`, `512Mi`, `1e3`. */
export const QUANTITY_RE = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$/;
export const EVENT_NAMES = ["push", "pull_request"] as const;
export type EventName = (typeof EVENT_NAMES)[number];

/** The name of the job that the shortest form (`run:` at the top level) produces. */
export const SHORT_FORM_JOB_NAME = "build";

/** Issue parameters understood by `parse-config.ts`. */
export interface IssueParams {
  hint: string;
  full?: boolean;
  at?: "key";
}

type Ctx = z.RefinementCtx;

function fail(ctx: Ctx, message: string, params: IssueParams): void {
  ctx.addIssue({ code: "custom", message, params: { ...params } });
}

function show(value: unknown): string {
  const s = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  return inlineCode(s.length > 60 ? `${s.slice(0, 57)}...` : s);
}

/**
 * How to explain a type mismatch (or an empty list) for each kind of field. `parse-config.ts`
 * writes "`<path>` must be <expect>, got <what was there>" and adds the hint.
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
} as const satisfies Record<string, { expect: string; hint: string }>;
export type FieldKind = keyof typeof FIELD_RULES;

/** Messages for empty lists / mappings that would make a config do nothing. */
const EMPTY = {
  on: { message: "lists no events, so nothing would ever run", hint: "List `push` and/or `pull_request`, or remove `on:` to run on both." },
  branches: { message: "is empty, so it matches no branch", hint: "List at least one branch pattern, or remove `branches` to run on every branch." },
  run: { message: "is empty", hint: "Write the command(s) to run, e.g. `run: npm test`." },
  jobs: { message: "has no jobs", hint: "Add at least one job, e.g. `jobs: { test: { run: npm test } }`, or use `run:` for a single job." },
};

// ---------------------------------------------------------------------------------------------
// Leaf values

const durationSchema = z
  .string()
  .meta({ pattern: DURATION_PATTERN, description: "A duration: a number followed by s, m or h, combinable (`1h30m`). More than 0, at most 6h.", examples: ["15m", "90s", "1h30m"] })
  .transform((text, ctx): number => {
    const r = tryParseDuration(text);
    if (!r.ok) {
      fail(ctx, r.message, { hint: r.hint });
      return z.NEVER;
    }
    return r.ms;
  });

const imageSchema = z
  .string()
  .meta({ description: "Container image (Kubernetes executor).", examples: ["node:22-alpine", "alpine:3.20"] })
  .transform((text, ctx): string => {
    const t = text.trim();
    if (t === "" || /\s/.test(t)) {
      fail(ctx, `must be a container image name like \`node:22-alpine\`, got ${show(text)}`, {
        hint: "An image reference has no spaces, e.g. `image: node:22-alpine` or `image: ghcr.io/org/tool:1.2`.",
      });
      return z.NEVER;
    }
    return t;
  });

const envNameSchema = z.string().meta({ pattern: ENV_NAME_RE.source }).superRefine((name, ctx) => {
  if (!ENV_NAME_RE.test(name) || name === "__proto__") {
    fail(ctx, `environment variable name ${show(name)} is not valid`, {
      full: true,
      at: "key",
      hint: "Use letters, digits and `_` only, not starting with a digit, e.g. `MY_VAR`.",
    });
  }
});

const envValueSchema = z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v));

const envSchema = z
  .record(envNameSchema, envValueSchema)
  .meta({ description: "Environment variables; numbers and booleans become strings.", examples: [{ CI: "true" }] });

const runSchema = z
  .union([z.string(), z.array(z.string())])
  .meta({ description: "Shell script, run with `sh -ec` in the checked-out repository. A list is joined with newlines." })
  .transform((v, ctx): string => {
    const script = Array.isArray(v) ? v.join("\n") : v;
    if (script.trim() === "") {
      fail(ctx, EMPTY.run.message, { hint: EMPTY.run.hint });
      return z.NEVER;
    }
    return script;
  });

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
        fail(ctx, `must be ${rule.expect}, got ${show(v)}`, { hint });
        return z.NEVER;
      }
      if (!/[1-9]/.test(q.replace(/[eE][+-]?\d+$/, ""))) {
        fail(ctx, `must be more than 0, got ${show(v)}`, { hint: `${rule.hint} Remove \`${kind}\` to use the cluster's default.` });
        return z.NEVER;
      }
      if (kind === "memory" && /^[\d.]+m$/.test(q)) {
        fail(ctx, `is ${show(q)}, which means millibytes`, { hint: `Did you mean \`${q.slice(0, -1)}Mi\` (mebibytes)?` });
        return z.NEVER;
      }
      if (kind === "cpu" && /i$/.test(q)) {
        fail(ctx, `uses a memory unit: ${show(q)}`, { hint: "CPU is counted in cores (`1`, `0.5`) or millicores (`500m`)." });
        return z.NEVER;
      }
      return q;
    });
}

export const resourcesShape = {
  cpu: quantitySchema("cpu").optional(),
  memory: quantitySchema("memory").optional(),
};
const resourcesSchema = z.strictObject(resourcesShape).meta({ description: "Kubernetes resources of the job's container." });

// ---------------------------------------------------------------------------------------------
// Jobs

export const jobShape = {
  run: runSchema,
  image: imageSchema.optional(),
  timeout: durationSchema.optional(),
  env: envSchema.optional(),
  resources: resourcesSchema.optional(),
};
const jobSchema = z.strictObject(jobShape);

const jobNameSchema = z.string().meta({ pattern: JOB_NAME_RE.source }).superRefine((name, ctx) => {
  if (!JOB_NAME_RE.test(name)) {
    fail(ctx, `job name ${show(name)} is not allowed: job names become check-run names`, {
      full: true,
      at: "key",
      hint: "Use 1 to 63 letters, digits, `_`, `.` or `-`, starting with a letter or digit, e.g. `unit-tests`.",
    });
  }
});

const jobsSchema = z
  .record(jobNameSchema, jobSchema)
  .meta({ description: "Jobs by name; each name becomes a check run." })
  .superRefine((jobs, ctx) => {
    if (Object.keys(jobs).length === 0) fail(ctx, EMPTY.jobs.message, { hint: EMPTY.jobs.hint });
  });

// ---------------------------------------------------------------------------------------------
// Events

const branchPatternSchema = z.string().superRefine((p, ctx) => {
  if (p.trim() === "" || /\s/.test(p)) {
    fail(ctx, `must be a branch name or glob pattern, got ${show(p)}`, { hint: "Branch patterns have no spaces, e.g. `main` or `\"release/*\"`." });
  } else if (p.startsWith("!")) {
    fail(ctx, `is a negated pattern (${show(p)}), which is not supported`, { hint: "List the branches that should run instead." });
  }
});

const branchesSchema = z
  .union([branchPatternSchema, z.array(branchPatternSchema)])
  .meta({ description: "Branch globs: `*` matches within a path segment, `**` matches anything." })
  .transform((v, ctx): string[] => {
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0) {
      fail(ctx, EMPTY.branches.message, { hint: EMPTY.branches.hint });
      return z.NEVER;
    }
    return list;
  });

export const eventFilterShape = { branches: branchesSchema.optional() };
const eventFilterSchema = z
  .strictObject(eventFilterShape)
  .nullable()
  .transform((f): EventFilter => (f?.branches ? { branches: f.branches } : {}));

const eventNameSchema = z.enum(EVENT_NAMES);

export const onShape = {
  push: eventFilterSchema.optional(),
  pull_request: eventFilterSchema.optional(),
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
      fail(ctx, EMPTY.on.message, { hint: EMPTY.on.hint });
      return z.NEVER;
    }
    return out;
  });

// ---------------------------------------------------------------------------------------------
// The file

export const topLevelShape = {
  version: z.literal(1).optional().meta({ description: "Config format version; only 1 exists." }),
  image: imageSchema.optional().meta({ description: `Default container image of every job (default ${DEFAULT_IMAGE}).` }),
  timeout: durationSchema.optional().meta({ description: "Default timeout of every job (default 1h, at most 6h)." }),
  env: envSchema.optional(),
  on: onSchema.optional(),
  cancel_superseded: z
    .boolean()
    .optional()
    .meta({ description: "Cancel still-running jobs of older commits on the same branch or pull request (default true)." }),
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

type RawConfig = z.output<z.ZodObject<typeof topLevelShape, z.core.$strict>>;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function normalize(raw: RawConfig): YaciConfig {
  const image = raw.image ?? DEFAULT_IMAGE;
  const timeoutMs = raw.timeout ?? DEFAULT_TIMEOUT_MS;
  const env = raw.env ?? {};
  let jobs: JobConfig[];
  if (raw.run !== undefined) {
    jobs = [{ name: SHORT_FORM_JOB_NAME, image, run: raw.run, timeoutMs, env: { ...env } }];
  } else {
    jobs = Object.entries(raw.jobs ?? {}).map(([name, job]) => {
      const out: JobConfig = {
        name,
        image: job.image ?? image,
        run: job.run,
        timeoutMs: job.timeout ?? timeoutMs,
        env: { ...env, ...job.env },
      };
      const resources: JobResources = {};
      if (job.resources?.cpu !== undefined) resources.cpu = job.resources.cpu;
      if (job.resources?.memory !== undefined) resources.memory = job.resources.memory;
      if (Object.keys(resources).length > 0) out.resources = resources;
      return out;
    });
  }
  return {
    version: 1,
    on: raw.on ?? { push: {}, pull_request: {} },
    jobs,
    cancelSuperseded: raw.cancel_superseded ?? true,
  };
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
  .refine((v) => !(v.run === undefined && v.jobs === undefined), {
    when: (payload) => isObject(payload.value) && !("run" in payload.value) && !("jobs" in payload.value),
    error: "nothing to run: the file has neither `run:` nor `jobs:`",
    params: {
      full: true,
      hint: "Add `run: <command>` for a single job, or `jobs:` with one or more named jobs.",
    } satisfies IssueParams,
  })
  .transform(normalize);

/** The JSON schema of `.yaci.yml` (the input side: what a user writes). */
export function yaciConfigJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(yaciConfigSchema, { io: "input" }) as Record<string, unknown>;
}
