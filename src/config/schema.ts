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
import { DURATION_PATTERN, tryParseDuration } from "./duration.js";
import { addIssue, EMPTY_RULES, FIELD_RULES, showValue, type IssueParams } from "./messages.js";
import {
  DEFAULT_IMAGE,
  DEFAULT_TIMEOUT_MS,
  type ConfigError,
  type EventFilter,
  type JobConfig,
  type JobResources,
  type YaciConfig,
} from "./yaci-config.js";

// ---- Syntax of names and quantities (also in the JSON schema as `pattern`) ----

export const JOB_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/**
 * Kubernetes resource quantity (no sign): `500m`, `1`, `0.5`, `1Gi`, `512Mi`, `1e3`.
 * Group 1 is the number, group 2 the suffix (binary SI, decimal SI or a decimal exponent).
 */
export const QUANTITY_RE = /^(\d+(?:\.\d*)?|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$/;

// ---- Leaf values: durations, images, `env` and `run` ----

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
    if (t === "" || /\s/.test(t)) {
      addIssue(ctx, `must be a container image name like \`node:22-alpine\`, got ${showValue(text)}`, {
        hint: "An image reference has no spaces, e.g. `image: node:22-alpine` or `image: ghcr.io/org/tool:1.2`.",
      });
      return z.NEVER;
    }
    return t;
  });

const envNameSchema = z.string().meta({ pattern: ENV_NAME_RE.source }).superRefine((name, ctx) => {
  if (!ENV_NAME_RE.test(name) || name === "__proto__") {
    addIssue(ctx, `environment variable name ${showValue(name)} is not valid`, {
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
      addIssue(ctx, EMPTY_RULES.run.message, { hint: EMPTY_RULES.run.hint });
      return z.NEVER;
    }
    return script;
  });

// ---- `resources:` of a job: Kubernetes CPU and memory quantities ----

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
      return q;
    });
}

const resourcesShape = {
  cpu: quantitySchema("cpu").optional(),
  memory: quantitySchema("memory").optional(),
};
const resourcesSchema = z.strictObject(resourcesShape).meta({ description: "Kubernetes resources of the job's container." });

// ---- `jobs:`: job names and the fields of one job ----

const jobShape = {
  run: runSchema,
  image: imageSchema.optional(),
  timeout: durationSchema.optional(),
  env: envSchema.optional(),
  resources: resourcesSchema.optional(),
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
  .meta({ description: "Jobs by name; each name becomes a check run." })
  .superRefine((jobs, ctx) => {
    if (Object.keys(jobs).length === 0) addIssue(ctx, EMPTY_RULES.jobs.message, { hint: EMPTY_RULES.jobs.hint });
  });

// ---- `on:`: which events (and branches) run the jobs ----

const EVENT_NAMES = ["push", "pull_request"] as const;

const branchPatternSchema = z.string().superRefine((p, ctx) => {
  if (p.trim() === "" || /\s/.test(p)) {
    addIssue(ctx, `must be a branch name or glob pattern, got ${showValue(p)}`, { hint: "Branch patterns have no spaces, e.g. `main` or `\"release/*\"`." });
  } else if (p.startsWith("!")) {
    addIssue(ctx, `is a negated pattern (${showValue(p)}), which is not supported`, { hint: "List the branches that should run instead." });
  }
});

const branchesSchema = z
  .union([branchPatternSchema, z.array(branchPatternSchema)])
  .meta({ description: "Branch globs: `*` matches within a path segment, `**` matches anything." })
  .transform((v, ctx): string[] => {
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0) {
      addIssue(ctx, EMPTY_RULES.branches.message, { hint: EMPTY_RULES.branches.hint });
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
      addIssue(ctx, EMPTY_RULES.on.message, { hint: EMPTY_RULES.on.hint });
      return z.NEVER;
    }
    return out;
  });

// ---- The top level ----

const topLevelShape = {
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

// ---- Normalization: defaults applied, `run:` shortcut expanded, env merged ----

/** The name of the job that the shortest form (`run:` at the top level) produces. */
const SHORT_FORM_JOB_NAME = "build";

/** The output of the top-level shape, before normalization. */
type RawConfig = z.output<z.ZodObject<typeof topLevelShape, z.core.$strict>>;

function normalizeConfig(raw: RawConfig): YaciConfig {
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
  return z.toJSONSchema(yaciConfigSchema, { io: "input" }) as Record<string, unknown>;
}
