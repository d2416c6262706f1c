import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { once } from "node:events";
import { constants } from "node:os";
import { shellFlags, type RunSpec } from "../../core/run.js";
import type { Outcome } from "../../core/status.js";
import type { CheckoutTokenSource, Executor, JobObservation, RecoveredJob } from "../executor.js";
import type { LogStore } from "../../logs/log-store.js";
import { checkout } from "./checkout.js";
import { killRunProcesses } from "./kill-run-processes.js";
import { SecretMasker } from "../../logs/secret-masker.js";

export interface LocalExecutorOptions {
  dataDir: string;
  logs: LogStore;
  /** At most this many jobs run at once; the rest wait (`pending`). */
  concurrency: number;
  checkoutToken: CheckoutTokenSource;
  /** GitHub's REST base URL, for the tarball. */
  githubApiUrl: string;
  /** Seconds between SIGTERM and SIGKILL when a job is stopped. */
  killGraceMs?: number;
  now?: () => Date;
  fetch?: typeof fetch;
}

interface Active {
  spec: RunSpec;
  child?: ChildProcess;
  startedAt: Date;
  stopReason?: "cancelled" | "timed_out";
  timer?: NodeJS.Timeout;
  token?: string;
  /** Aborts the checkout download when the job is stopped before its command starts. */
  abort: AbortController;
}

/** Variables a job may inherit from the app's environment: nothing secret, nothing of the app's. */
const INHERITED = ["PATH", "LANG", "LC_ALL", "TZ", "TMPDIR"];

/**
 * The embedded executor: each job is a `sh -ec` process group on this machine, in a fresh
 * workspace holding the repository at the event's SHA. The image is not used.
 */
export class LocalExecutor implements Executor {
  readonly kind = "local" as const;
  private readonly listeners = new Set<(o: JobObservation) => void>();
  private readonly queue: RunSpec[] = [];
  private readonly active = new Map<string, Active>();
  private readonly stateDir: string;
  private readonly workDir: string;
  private readonly now: () => Date;

  constructor(private readonly opts: LocalExecutorOptions) {
    this.stateDir = join(opts.dataDir, "local", "running");
    this.workDir = join(opts.dataDir, "local", "workspaces");
    mkdirSync(this.stateDir, { recursive: true });
    mkdirSync(this.workDir, { recursive: true });
    this.now = opts.now ?? (() => new Date());
  }

  subscribe(fn: (o: JobObservation) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(o: JobObservation): void {
    for (const fn of this.listeners) fn(o);
  }

  /** Jobs waiting for a free slot. */
  get queueDepth(): number {
    return this.queue.length;
  }

  async start(spec: RunSpec): Promise<void> {
    if (this.active.has(spec.id) || this.queue.some((s) => s.id === spec.id)) return;
    this.queue.push(spec);
    this.emit({ runId: spec.id, phase: "pending" });
    this.pump();
  }

  private pump(): void {
    while (this.active.size < this.opts.concurrency && this.queue.length > 0) {
      const spec = this.queue.shift()!;
      const a: Active = { spec, startedAt: this.now(), abort: new AbortController() };
      this.active.set(spec.id, a);
      void this.launch(a);
    }
  }

  private async launch(a: Active): Promise<void> {
    const { spec } = a;
    writeFileSync(join(this.stateDir, `${spec.id}.json`), JSON.stringify({ spec }));
    this.emit({ runId: spec.id, phase: "running", startedAt: a.startedAt });
    const dir = join(this.workDir, spec.id);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, ".home"), { recursive: true });
    await this.opts.logs.write(spec.id, "");
    a.timer = setTimeout(() => this.stop(a, "timed_out"), spec.timeoutMs);
    try {
      if (spec.checkout) {
        a.token = await this.opts.checkoutToken(spec);
        if (a.stopReason) return this.finish(a, a.stopReason);
        await checkout(
          { apiUrl: this.opts.githubApiUrl, owner: spec.key.owner, repo: spec.key.repo, sha: spec.key.sha, token: a.token, dir },
          this.opts.fetch,
          a.abort.signal,
        );
      }
    } catch (err) {
      if (a.stopReason) return this.finish(a, a.stopReason); // aborted by a cancel or the timeout
      const message = `checkout failed: ${new SecretMasker(a.token ? [a.token] : []).mask((err as Error).message)}`;
      await this.opts.logs.append(spec.id, `yaci: ${message}\n`);
      return this.finish(a, "error", undefined, message);
    }
    if (a.stopReason) return this.finish(a, a.stopReason);

    const log = createWriteStream(this.opts.logs.path(spec.id), { flags: "a" });
    const child = spawn("sh", [shellFlags(spec), spec.run], {
      cwd: dir,
      env: this.jobEnv(spec, join(dir, ".home")),
      detached: true, // its own process group, so a stop reaches every child
      stdio: ["ignore", "pipe", "pipe"],
    });
    a.child = child;
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    const closed = once(child, "close");
    const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
    // The job is over when its shell exits: what it left in the background goes with it (as on
    // GitHub Actions), so a stray `server &` neither keeps the job open nor outlives it.
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // the group is already empty
    }
    killRunProcesses(spec.id); // and any that left the group (setsid)
    await closed;
    log.end();
    await once(log, "close");
    const exitCode = code ?? 128 + signalNumber(signal);
    if (a.stopReason) return this.finish(a, a.stopReason, exitCode);
    return this.finish(a, exitCode === 0 ? "succeeded" : "failed", exitCode);
  }

  private jobEnv(spec: RunSpec, home: string): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const name of INHERITED) if (process.env[name] !== undefined) env[name] = process.env[name];
    return {
      ...env,
      ...spec.env,
      HOME: home,
      CI: "true",
      YACI: "true",
      YACI_REPOSITORY: `${spec.key.owner}/${spec.key.repo}`,
      YACI_SHA: spec.key.sha,
      YACI_REF: spec.ref,
      YACI_JOB: spec.key.job,
      YACI_RUN_ID: spec.id,
    };
  }

  private finish(a: Active, outcome: Outcome, exitCode?: number, message?: string): void {
    const { spec } = a;
    clearTimeout(a.timer);
    this.active.delete(spec.id);
    rmSync(join(this.stateDir, `${spec.id}.json`), { force: true });
    rmSync(join(this.workDir, spec.id), { recursive: true, force: true });
    const o: JobObservation = { runId: spec.id, phase: "finished", outcome, finishedAt: this.now(), startedAt: a.startedAt };
    if (exitCode !== undefined) o.exitCode = exitCode;
    if (message) o.message = message;
    this.emit(o);
    this.pump();
  }

  private stop(a: Active, reason: "cancelled" | "timed_out"): void {
    if (a.stopReason) return;
    a.stopReason = reason;
    const pid = a.child?.pid;
    if (!pid) {
      a.abort.abort(); // still checking out: launch() sees stopReason and finishes
      return;
    }
    try {
      process.kill(-pid, "SIGTERM");
    } catch {
      return;
    }
    setTimeout(() => {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // already gone
      }
    }, this.opts.killGraceMs ?? 5000).unref();
  }

  async cancel(runId: string): Promise<void> {
    const i = this.queue.findIndex((s) => s.id === runId);
    if (i >= 0) {
      this.queue.splice(i, 1);
      this.emit({ runId, phase: "finished", outcome: "cancelled", finishedAt: this.now() });
      return;
    }
    const a = this.active.get(runId);
    if (a) this.stop(a, "cancelled");
  }

  /** Jobs a previous process was running: their processes are killed, their result is `interrupted`. */
  async recover(): Promise<RecoveredJob[]> {
    const found: RecoveredJob[] = [];
    for (const name of readdirSync(this.stateDir)) {
      if (!name.endsWith(".json")) continue;
      const file = join(this.stateDir, name);
      try {
        const { spec } = JSON.parse(readFileSync(file, "utf8")) as { spec: RunSpec };
        if (this.active.has(spec.id)) continue;
        killRunProcesses(spec.id);
        rmSync(join(this.workDir, spec.id), { recursive: true, force: true });
        found.push({ spec, observation: { runId: spec.id, phase: "finished", outcome: "interrupted", finishedAt: this.now() } });
      } catch {
        // unreadable state: nothing to adopt
      }
      rmSync(file, { force: true });
    }
    return found;
  }

  async ready(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return (signal && constants.signals[signal]) || 1;
}
