/**
 * From the validated `.yaci.yml` values to the final list of jobs: defaults applied, env merged,
 * `matrix` expanded into one job per combination (with `MATRIX_*` variables and
 * `${{ matrix.<key> }}` filled in), `needs` checked (unknown jobs, cycles) and resolved to final
 * job names, `secrets` merged. Problems that need the whole file are reported here with the path
 * of the value they are about (`parse-config.ts` turns paths into lines and columns).
 * Linear in the output: at most 256 jobs in all, whatever the matrices.
 */
import * as z from "zod";
import { CONFIG_LIMITS, shortName } from "./config-limits.js";
import { combinationsOf, expandJob, type Combination, type MatrixInput, type MatrixJob } from "./matrix.js";
import { addIssue, didYouMean, envNameProblem, ENV_NAME_RE, inlineCode, showValue, type IssueParams, type Report } from "./messages.js";
import { DEFAULT_IMAGE, DEFAULT_TIMEOUT_MS, type JobConfig, type JobResources } from "./yaci-config.js";

type PathSegment = string | number;

type Opt<T> = T | undefined;
export interface RawJob {
  run: string;
  image?: Opt<string>;
  timeout?: Opt<number>;
  env?: Opt<Record<string, string>>;
  resources?: Opt<{ cpu?: Opt<string>; memory?: Opt<string> }>;
  needs?: Opt<string[]>;
  matrix?: Opt<MatrixInput>;
  secrets?: Opt<string[]>;
}
/** The top-level values `buildJobs` reads (already validated one by one). */
export interface RawPipeline {
  image?: Opt<string>;
  timeout?: Opt<number>;
  env?: Opt<Record<string, string>>;
  secrets?: Opt<string[]>;
  run?: Opt<string>;
  jobs?: Opt<Record<string, RawJob>>;
}

// ---- `needs:` and `secrets:` of one job (or the top level), as written ----

export const needsSchema = z
  .union([z.string(), z.array(z.string())])
  .meta({
    description: "Jobs (by name) that must succeed before this one starts; a matrix job means all its combinations. When one fails, this job is skipped.",
    examples: ["build", ["build", "lint"]],
  })
  .transform((v): string[] => (Array.isArray(v) ? v : [v]));

/** Variables YACI sets in every job (or, `MATRIX_*`, in matrix jobs): a secret may not take them over. */
function reservedBy(name: string): string | undefined {
  const upper = name.toUpperCase();
  if (["PATH", "HOME", "CI", "YACI"].includes(upper)) return `YACI sets ${showValue(name)} in every job`;
  if (upper.startsWith("YACI_")) return "YACI sets the `YACI_*` variables in every job";
  if (upper.startsWith("MATRIX_")) return "`MATRIX_*` variables hold the values of a job's `matrix`";
  return undefined;
}

/** One secret name (errors point at the entry). */
const secretNameSchema = z
  .string()
  .meta({ pattern: ENV_NAME_RE.source, maxLength: CONFIG_LIMITS.envNameLength })
  .superRefine((name, ctx) => {
    const p = envNameProblem(name, CONFIG_LIMITS.envNameLength);
    if (p) {
      addIssue(ctx, p.message.replace("environment variable name", "secret name"), {
        full: true,
        hint: `A secret becomes an environment variable of the job. ${p.hint.replace("`MY_VAR`", "`NPM_TOKEN`")}`,
      });
      return;
    }
    const reserved = reservedBy(name);
    if (reserved) addIssue(ctx, `secret name ${showValue(name)} is reserved: ${reserved}`, { full: true, hint: "Give the secret another name, e.g. `DEPLOY_TOKEN`." });
  });

/** `secrets:` (top level or per job): names, or one name (`buildJobs` merges and deduplicates them). */
export const secretsSchema = z
  .union([secretNameSchema, z.array(secretNameSchema)])
  .meta({
    description: `Names of secrets given to the job(s) as environment variables (at most ${CONFIG_LIMITS.secrets}). The values live in YACI's secret store (\`yaci secret set\`), never in the repository, and are not given to pull requests from forks.`,
    examples: [["NPM_TOKEN", "DEPLOY_KEY"]],
  })
  .transform((v, ctx): string[] => {
    const list = Array.isArray(v) ? v : [v];
    if (list.length > CONFIG_LIMITS.secrets) {
      ctx.addIssue({
        code: "custom",
        message: `lists ${list.length} secrets, more than the limit of ${CONFIG_LIMITS.secrets}`,
        params: { hint: "Give a job only the secrets it uses." } satisfies IssueParams,
      });
      return z.NEVER;
    }
    return list;
  });

/** The name of the job that the shortest form (`run:` at the top level) produces. */
export const SHORT_FORM_JOB_NAME = "build";

// ---- The final jobs ----

/** One job of the file, defaults applied, not yet expanded, with where its values are written. */
interface PipelineJob extends MatrixJob {
  raw: RawJob;
  /** Secret names with where each is written, the top-level ones first. */
  secrets: { name: string; at: PathSegment[] }[];
}

function pipelineJobs(raw: RawPipeline): PipelineJob[] {
  const image = raw.image ?? DEFAULT_IMAGE;
  const timeoutMs = raw.timeout ?? DEFAULT_TIMEOUT_MS;
  const env = raw.env ?? {};
  const top = (raw.secrets ?? []).map((name, i) => ({ name, at: ["secrets", i] as PathSegment[] }));
  if (raw.run !== undefined) {
    const base: JobConfig = { name: SHORT_FORM_JOB_NAME, image, run: raw.run, timeoutMs, env: { ...env } };
    return [{ base, raw: { run: raw.run }, at: [], imageAt: ["image"], envAt: (n) => ["env", n], secrets: top }];
  }
  return Object.entries(raw.jobs ?? {}).map(([name, job]) => {
    const base: JobConfig = { name, image: job.image ?? image, run: job.run, timeoutMs: job.timeout ?? timeoutMs, env: { ...env, ...job.env } };
    const resources: JobResources = {};
    if (job.resources?.cpu !== undefined) resources.cpu = job.resources.cpu;
    if (job.resources?.memory !== undefined) resources.memory = job.resources.memory;
    if (Object.keys(resources).length > 0) base.resources = resources;
    const at = ["jobs", name];
    return {
      base,
      raw: job,
      matrix: job.matrix,
      at,
      imageAt: job.image !== undefined ? [...at, "image"] : ["image"],
      envAt: (n: string) => (job.env && Object.hasOwn(job.env, n) ? [...at, "env", n] : ["env", n]),
      secrets: [...top, ...(job.secrets ?? []).map((s, i) => ({ name: s, at: [...at, "secrets", i] }))],
    };
  });
}

/**
 * The final jobs, in the file's order with each matrix job's combinations in GitHub's order;
 * undefined when a problem was reported. `isImage` checks an image reference made by a matrix.
 */
export function buildJobs(raw: RawPipeline, report: Report, isImage: (ref: string) => boolean): JobConfig[] | undefined {
  let failed = false;
  const fail: Report = (...args) => {
    failed = true;
    report(...args);
  };
  const jobs = pipelineJobs(raw);
  for (const j of jobs) checkSecrets(j, fail);
  checkNeeds(
    jobs.map((j) => ({ name: j.base.name, at: j.at, needs: j.raw.needs ?? [] })),
    fail,
  );

  // Combinations: counted before anything is built, so that no matrix costs more than the limits.
  const combos = new Map<string, Combination[]>();
  let total = 0;
  for (const j of jobs) {
    const m = j.raw.matrix;
    const list = m ? combinationsOf(j, m, fail) : undefined;
    if (m && !list) continue;
    if (list) combos.set(j.base.name, list);
    total += list ? list.length : 1;
    if (total > CONFIG_LIMITS.jobs) {
      fail([...j.at, "matrix"], `with the combinations of its matrices, \`jobs\` makes more than ${CONFIG_LIMITS.jobs} jobs`, {
        full: true,
        at: "key",
        hint: `Keep the jobs and all matrix combinations within ${CONFIG_LIMITS.jobs}: trim a matrix's lists or use \`exclude\`.`,
      });
      return undefined;
    }
  }
  const expanded = jobs.map((j) => expandJob(j, combos.get(j.base.name), fail, isImage));
  if (failed) return undefined;

  const finalNames = new Map<string, string[]>();
  const seen = new Map<string, string>();
  jobs.forEach((j, i) => {
    finalNames.set(j.base.name, expanded[i]!.map((e) => e.name));
    if (!j.raw.matrix) return;
    for (const e of expanded[i]!) {
      const other = seen.get(e.name.toLowerCase());
      if (other !== undefined) {
        fail([...j.at, "matrix"], `matrix combinations ${showValue(other)} and ${showValue(e.name)} have the same name`, {
          full: true,
          at: "key",
          hint: "Each combination needs its own values (names are compared without case): remove the duplicate `include` entry or value.",
        });
        return;
      }
      seen.set(e.name.toLowerCase(), e.name);
      if (e.name.length > CONFIG_LIMITS.jobNameLength) {
        fail([...j.at, "matrix"], `matrix combination name ${shortName(e.name)} is ${e.name.length} characters long, more than ${CONFIG_LIMITS.jobNameLength}`, {
          full: true,
          at: "key",
          hint: "Job names become check-run names: shorten the job's name or the matrix values.",
        });
        return;
      }
    }
  });
  if (failed) return undefined;
  return jobs.flatMap((j, i) => {
    const needs = [...new Set((j.raw.needs ?? []).flatMap((n) => finalNames.get(n) ?? []))];
    const secrets = [...new Set(j.secrets.map((s) => s.name))];
    return expanded[i]!.map((e) => ({ ...e, ...(needs.length > 0 ? { needs } : {}), ...(secrets.length > 0 ? { secrets } : {}) }));
  });
}

/** A secret that is also an `env` variable of the job: which one would the job see? */
function checkSecrets(j: PipelineJob, fail: Report): void {
  for (const s of j.secrets) {
    if (!Object.hasOwn(j.base.env, s.name)) continue;
    const envAt = j.envAt(s.name);
    const where = envAt[0] === "env" ? "the top-level `env`" : `the \`env\` of job ${inlineCode(j.base.name)}`;
    fail(s.at, `secret ${showValue(s.name)} is also set in ${where}`, {
      full: true,
      hint: `Remove \`${s.name}\` from \`env\` or from \`secrets\`: the secret's value is given to the job as \`$${s.name}\`.`,
    });
  }
}

// ---- `needs` across the file: known jobs, no cycles (one depth-first search) ----

/** A job's name, where it is in the file, and its `needs` as written. */
export interface NeedsOf {
  name: string;
  at: PathSegment[];
  needs: string[];
}

/** Unknown jobs in `needs`, and cycles (a job that needs itself, directly or not). */
export function checkNeeds(jobs: NeedsOf[], fail: Report): void {
  const names = jobs.map((j) => j.name);
  const byName = new Set(names);
  const edges = new Map<string, { to: string; at: PathSegment[] }[]>();
  let unknown = 0;
  for (const j of jobs) {
    const list: { to: string; at: PathSegment[] }[] = [];
    j.needs.forEach((need, i) => {
      const at = [...j.at, "needs", i];
      if (byName.has(need)) return list.push({ to: need, at });
      // Only the first ones are listed (`CONFIG_LIMITS.errors`): spare the rest the edit distances.
      const close = unknown++ < CONFIG_LIMITS.errors ? didYouMean(need, names) : undefined;
      const some = names.slice(0, 10).map(inlineCode).join(", ") + (names.length > 10 ? ", …" : "");
      fail(at, `job ${inlineCode(j.name)} needs ${showValue(need)}, which is not a job in this file`, {
        full: true,
        hint: close ? `Did you mean ${inlineCode(close)}?` : `\`needs\` names jobs of this file: ${some}.`,
      });
    });
    edges.set(j.name, list);
  }
  // Depth-first search; an edge back to a job on the path closes a cycle.
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  let reported = 0;
  const visit = (name: string): void => {
    state.set(name, "open");
    path.push(name);
    for (const e of edges.get(name)!) {
      const s = state.get(e.to);
      if (s === undefined) visit(e.to);
      else if (s === "open" && reported < CONFIG_LIMITS.errors) {
        reported++;
        const cycle = [...path.slice(path.lastIndexOf(e.to)), e.to];
        fail(e.at, cycle.length === 2 ? `job ${shortName(name)} needs itself` : `jobs ${showCycle(cycle)} need each other`, {
          full: true,
          hint: cycle.length === 2 ? `Remove ${shortName(name)} from its own \`needs\`.` : "Remove one of these `needs` entries: a job can only wait for jobs that do not wait for it.",
        });
      }
    }
    path.pop();
    state.set(name, "done");
  };
  for (const name of names) if (!state.has(name)) visit(name);
}

/** `` `a` → `b` → `a` ``, long cycles shortened in the middle. */
function showCycle(cycle: string[]): string {
  const shown = cycle.length > 6 ? [...cycle.slice(0, 3).map(shortName), "…", ...cycle.slice(-2).map(shortName)] : cycle.map(shortName);
  return shown.join(" → ");
}
