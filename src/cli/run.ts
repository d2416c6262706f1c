/**
 * `yaci run [JOB…]`: runs the jobs of a working copy on this machine with the app's own
 * {@link LocalExecutor} (its environment, timeouts, process-group handling and sandbox), given the
 * directory's files instead of a checkout (`workspaceFrom`). No GitHub App, no network. Output is
 * streamed line by line with the job's name in front, masked ({@link SecretMasker}: the values of
 * `--secret-file` and anything shaped like a GitHub token), then a table of results.
 * Ctrl-C (or SIGTERM) cancels every job (SIGTERM to its processes, SIGKILL after a grace period);
 * a second Ctrl-C kills what is left at once.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { parseEnv } from "node:util";
import { ENV_NAME_RE } from "../config/schema.js";
import type { JobConfig } from "../config/yaci-config.js";
import { formatDuration } from "../core/format-duration.js";
import { skipReason } from "../core/pipeline.js";
import { outcomeToConclusion } from "../core/status.js";
import type { JobObservation, RunSpec } from "../core/run.js";
import { LocalExecutor } from "../executors/local/local-executor.js";
import { killRunProcesses, localContainment } from "../executors/local/sandbox.js";
import { LogStore } from "../logs/log-store.js";
import { SecretMasker } from "../logs/secret-masker.js";
import { EXIT, formatProblems, loadConfig, parseCommandLine, UsageError, type Colour, type Io } from "./validate.js";

const USAGE = `Usage: yaci run [JOB...] [--dir PATH] [--event push|pull_request] [--env NAME=VALUE]... [--secret-file FILE]

Runs the jobs of PATH/.yaci.yml (default: the current directory) on this machine, the way YACI's
local executor runs them for a push: each job gets a fresh copy of PATH (without .git and .yaci),
its own HOME, the config's env, a timeout, and a bubblewrap sandbox where bwrap works
(YACI_LOCAL_SANDBOX, YACI_LOCAL_NETWORK apply). Images are not used: jobs run on this machine.
Needs no GitHub App and no network.

  JOB...               run these jobs, whatever \`on:\` says (default: the jobs the event runs);
                       a job runs after the jobs it \`needs\` among those chosen, and is
                       skipped when one of them did not succeed
  --dir PATH           the working copy (default .)
  --event EVENT        push (default) or pull_request: without JOB, runs nothing when \`on:\`
                       leaves the event out (branch filters are not applied locally)
  --env NAME=VALUE     an extra environment variable of every job (repeatable)
  --secret-file FILE   a dotenv file (NAME=value lines); its values become environment variables
                       of every job and are masked (***) in the output
  -h, --help           show this help

Output: each line of a job prefixed with its name, then a table (job, result, duration).
Exit codes: 0 every job succeeded, 1 a job failed (or timed out), 2 usage error,
130 interrupted (Ctrl-C stops every job; a second Ctrl-C kills them at once).
`;

const EVENTS = ["push", "pull_request"] as const;
/** How often the jobs' logs are read for new output. */
const FOLLOW_MS = 100;
/** A secret file bigger than this is not a dotenv file. */
const MAX_SECRET_FILE_BYTES = 1024 * 1024;
const PALETTE: Colour[] = ["cyan", "magenta", "blue", "yellow", "green"];

type Finished = Extract<JobObservation, { phase: "finished" }>;

interface Job {
  config: JobConfig;
  spec: RunSpec;
  colour: Colour;
  masker: SecretMasker;
  offset: number;
  atLineStart: boolean;
  started: boolean;
  finished?: Finished;
  done: Promise<Finished>;
  resolve: (f: Finished) => void;
}

function parseEnvArgs(list: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf("=");
    const name = eq < 0 ? item : item.slice(0, eq);
    if (eq < 0 || !ENV_NAME_RE.test(name)) throw new UsageError(`--env needs NAME=VALUE with a valid variable name, got '${item}'`);
    env[name] = item.slice(eq + 1);
  }
  return env;
}

function readSecretFile(path: string, cwd: string): Record<string, string> {
  const abs = resolve(cwd, path);
  let text: string;
  try {
    if (statSync(abs).size > MAX_SECRET_FILE_BYTES) throw new Error(`larger than ${MAX_SECRET_FILE_BYTES} bytes`);
    text = readFileSync(abs, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(`cannot read the secret file ${path}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
  }
  const secrets: Record<string, string> = {};
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (!ENV_NAME_RE.test(name)) throw new UsageError(`the secret file ${path} names an invalid variable '${name}'`);
    if (value !== undefined) secrets[name] = value;
  }
  return secrets;
}

/** The commit and ref of a git working copy, when it is one (for YACI_SHA and YACI_REF). */
function gitHead(dir: string): { sha: string; ref: string } {
  const git = (...args: string[]) => {
    try {
      return execFileSync("git", args, { cwd: dir, stdio: ["ignore", "pipe", "ignore"], timeout: 5000, encoding: "utf8" }).trim();
    } catch {
      return "";
    }
  };
  return { sha: git("rev-parse", "--verify", "-q", "HEAD") || "0".repeat(40), ref: git("symbolic-ref", "-q", "HEAD") || "HEAD" };
}

function selectJobs(all: JobConfig[], names: string[], file: string): JobConfig[] {
  const picked: JobConfig[] = [];
  for (const name of names) {
    const job = all.find((j) => j.name === name);
    if (!job) throw new UsageError(`${file} has no job '${name}'; its jobs: ${all.map((j) => j.name).join(", ")}`);
    if (!picked.includes(job)) picked.push(job);
  }
  return picked;
}

function resultOf(f: Finished | undefined): string {
  if (!f) return "not run";
  if (f.outcome === "failed" && f.exitCode !== undefined) return `failed (exit ${f.exitCode})`;
  return f.outcome.replace("_", " ");
}

function colourOf(f: Finished | undefined): Colour {
  return f?.outcome === "succeeded" ? "green" : f?.outcome === "cancelled" || f?.outcome === "skipped" ? "yellow" : "red";
}

export async function runCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    dir: { type: "string", default: "." },
    event: { type: "string", default: "push" },
    env: { type: "string", multiple: true, default: [] },
    "secret-file": { type: "string" },
  });
  if (values.help) {
    io.out(USAGE);
    return EXIT.ok;
  }
  const event = values.event as (typeof EVENTS)[number];
  if (!EVENTS.includes(event)) throw new UsageError(`--event must be push or pull_request, got '${values.event}'`);
  const dir = resolve(io.cwd, values.dir);
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--dir ${values.dir} is not a directory`);
  const extraEnv = parseEnvArgs(values.env);
  const secrets = values["secret-file"] ? readSecretFile(values["secret-file"], io.cwd) : {};

  const loaded = await loadConfig(join(dir, ".yaci.yml"), io.cwd);
  if (!loaded.result.ok) {
    io.out(formatProblems(loaded, loaded.result.errors, io, loaded.result.omitted));
    return EXIT.failed;
  }
  const config = loaded.result.config;
  const chosen = positionals.length > 0 ? selectJobs(config.jobs, positionals, loaded.file) : config.on[event] ? config.jobs : [];
  if (chosen.length === 0) {
    io.err(`yaci: no job runs on ${event}: \`on:\` in ${loaded.file} leaves it out. Name the jobs to run them anyway (yaci run ${config.jobs[0]!.name}).\n`);
    return EXIT.ok;
  }
  for (const [name, value] of Object.entries(secrets)) {
    if (value.length > 0 && value.length < 4) io.err(`${io.style("yellow", "yaci:")} the secret ${name} is shorter than 4 characters: it is not masked\n`);
  }

  const dataDir = mkdtempSync(join(tmpdir(), "yaci-run-"));
  try {
    return await runJobs(chosen, { dir, event, extraEnv, secrets, dataDir }, io);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface RunContext {
  dir: string;
  event: (typeof EVENTS)[number];
  extraEnv: Record<string, string>;
  secrets: Record<string, string>;
  dataDir: string;
}

async function runJobs(chosen: JobConfig[], ctx: RunContext, io: Io): Promise<number> {
  let containment;
  try {
    containment = await localContainment(io.env, ctx.dataDir);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const logs = new LogStore(ctx.dataDir);
  const executor = new LocalExecutor({
    dataDir: ctx.dataDir,
    logs,
    concurrency: availableParallelism(),
    checkoutToken: () => Promise.reject(new Error("yaci run copies the working copy: it needs no token")),
    githubApiUrl: "",
    containment,
    workspaceFrom: ctx.dir,
    killGraceMs: 3000,
  });
  const { sha, ref } = gitHead(ctx.dir);
  const secretValues = Object.values(ctx.secrets);
  const width = Math.max(...chosen.map((j) => j.name.length));
  const jobs: Job[] = chosen.map((config, i) => {
    let resolveDone!: (f: Finished) => void;
    const done = new Promise<Finished>((r) => (resolveDone = r));
    const spec: RunSpec = {
      id: `yaci-local-${config.name}-${randomBytes(4).toString("hex")}`,
      key: { owner: "local", repo: basename(ctx.dir), sha, job: config.name },
      attempt: 1,
      event: ctx.event,
      installationId: 0,
      ref,
      image: config.image,
      run: config.run,
      timeoutMs: config.timeoutMs,
      env: { ...config.env, ...ctx.extraEnv, ...ctx.secrets },
      checkout: true,
    };
    return { config, spec, colour: PALETTE[i % PALETTE.length]!, masker: new SecretMasker(secretValues), offset: 0, atLineStart: true, started: false, done, resolve: resolveDone };
  });
  const byId = new Map(jobs.map((j) => [j.spec.id, j]));
  const prefix = (job: Job) => io.style(job.colour, `${job.config.name.padEnd(width)} | `);

  /** Writes masked text of a job, with its prefix at the start of every line. */
  const emit = (job: Job, text: string) => {
    if (!text) return;
    let out = "";
    for (const part of text.split(/(?<=\n)/)) {
      if (job.atLineStart) out += prefix(job);
      out += part;
      job.atLineStart = part.endsWith("\n");
    }
    io.out(out);
  };
  const readNew = async (job: Job) => {
    for (;;) {
      const chunk = await logs.readFrom(job.spec.id, job.offset, 1 << 20);
      if (chunk.length === 0) return;
      job.offset += chunk.length;
      emit(job, job.masker.push(chunk));
    }
  };
  let following = false;
  const follow = async () => {
    if (following) return;
    following = true;
    try {
      for (const job of jobs) if (job.started && !job.finished) await readNew(job);
    } finally {
      following = false;
    }
  };

  executor.subscribe((o) => {
    const job = byId.get(o.runId);
    if (!job) return;
    if (o.phase === "running") job.started = true;
    if (o.phase === "finished" && !job.finished) {
      job.finished = o;
      job.resolve(o);
    }
  });

  const images = [...new Set(chosen.map((j) => j.image))].join(", ");
  const how = containment.sandboxed ? "in a bubblewrap sandbox" : io.style("yellow", containment.warning);
  io.err(`yaci: running ${chosen.map((j) => j.name).join(", ")} from ${ctx.dir} (${ctx.event}) with the local executor, ${how}\n`);
  io.err(`yaci: jobs run on this machine, not in their image (${images}): use the Kubernetes executor for that\n`);

  let interrupted = false;
  const onSignal = () => {
    if (!interrupted) {
      interrupted = true;
      io.err(`\n${io.style("yellow", "yaci:")} stopping every job (Ctrl-C again to kill them at once)\n`);
      for (const job of jobs) void executor.cancel(job.spec.id);
    } else {
      for (const job of jobs) killRunProcesses(job.spec.id, "SIGKILL");
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const timer = setInterval(() => void follow(), FOLLOW_MS);
  const startedAt = Date.now();
  try {
    const byName = new Map(jobs.map((j) => [j.config.name, j]));
    const end = (job: Job, f: Finished) => {
      if (job.finished) return;
      job.finished = f;
      job.resolve(f);
    };
    // `needs:` as on YACI: a job starts when the jobs it needs (those chosen to run) succeeded, and
    // is skipped when one did not. A job named alone on the command line runs without its needs.
    const startWhenReady = async (job: Job) => {
      const needed = (job.config.needs ?? []).flatMap((n) => (byName.has(n) ? [[n, byName.get(n)!] as const] : []));
      const ends = await Promise.all(needed.map(async ([n, j]) => [n, await j.done] as const));
      const failed = ends.find(([, f]) => f.outcome !== "succeeded");
      if (interrupted) return end(job, { runId: job.spec.id, phase: "finished", outcome: "cancelled", finishedAt: new Date() });
      if (failed) {
        const reason = skipReason(failed[0], outcomeToConclusion(failed[1].outcome));
        return end(job, { runId: job.spec.id, phase: "finished", outcome: "skipped", finishedAt: new Date(), message: reason });
      }
      try {
        await executor.start(job.spec);
      } catch (err) {
        end(job, { runId: job.spec.id, phase: "finished", outcome: "error", finishedAt: new Date(), message: `could not start: ${(err as Error).message}` });
      }
    };
    for (const job of jobs) void startWhenReady(job);
    await Promise.all(
      jobs.map(async (job) => {
        const f = await job.done;
        while (following) await new Promise((r) => setImmediate(r));
        await readNew(job).catch(() => undefined);
        emit(job, job.masker.end());
        if (!job.atLineStart) emit(job, "\n");
        const took = f.startedAt ? ` in ${formatDuration(f.finishedAt.getTime() - f.startedAt.getTime())}` : "";
        const why = f.message && f.outcome !== "failed" ? `: ${job.masker.mask(f.message)}` : "";
        emit(job, `${io.style(colourOf(f), resultOf(f))}${took}${why}\n`);
      }),
    );
  } finally {
    clearInterval(timer);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    // Whatever a job may have left (unsandboxed, a process that escaped its group) goes too.
    for (const job of jobs) killRunProcesses(job.spec.id, "SIGKILL");
    await executor.close();
  }

  io.out(`\n${table(jobs, io)}`);
  const failed = jobs.filter((j) => j.finished?.outcome !== "succeeded").length;
  const total = `${jobs.length - failed} of ${jobs.length} ${jobs.length === 1 ? "job" : "jobs"} succeeded in ${formatDuration(Date.now() - startedAt)}`;
  io.err(`yaci: ${interrupted ? "interrupted; " : ""}${total}\n`);
  if (interrupted) return EXIT.interrupted;
  return failed > 0 ? EXIT.failed : EXIT.ok;
}

function table(jobs: Job[], io: Io): string {
  const rows = jobs.map((j) => {
    const f = j.finished;
    const duration = f?.startedAt ? formatDuration(f.finishedAt.getTime() - f.startedAt.getTime()) : "-";
    return [j.config.name, resultOf(f), duration, colourOf(f)] as const;
  });
  const w0 = Math.max(3, ...rows.map((r) => r[0].length));
  const w1 = Math.max(6, ...rows.map((r) => r[1].length));
  const head = io.style("bold", `${"job".padEnd(w0)}  ${"result".padEnd(w1)}  duration`);
  const body = rows.map(([name, result, duration, colour]) => `${name.padEnd(w0)}  ${io.style(colour, result.padEnd(w1))}  ${duration}`);
  return `${[head, ...body].join("\n")}\n`;
}
