import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cp, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { constants } from "node:os";
import { finished as streamFinished } from "node:stream/promises";
import { invalidSpec, shellFlags, type RunSpec } from "../../core/run.js";
import type { Outcome } from "../../core/status.js";
import { nextToStart, queuePositions, type QueuedRun, type RunningRun } from "../../core/queue-policy.js";
import type { CheckoutTokenSource, Executor, JobObservation, RecoveredJob } from "../executor.js";
import { DEFAULT_LOG_MAX_BYTES, type CappedLog, type LogStore, type LogTail } from "../../logs/log-store.js";
import type { Logger } from "../../logger.js";
import { checkout, withRetries } from "./checkout.js";
import { killRunProcesses, sandboxArgs, signalSandbox, type Containment } from "./sandbox.js";
import { pipeMasked, SecretMasker } from "../../logs/secret-masker.js";
import { LocalSecretStore, type ResolvedSecrets } from "../../secrets/local-store.js";

export interface LocalExecutorOptions {
  dataDir: string;
  logs: LogStore;
  /** At most this many jobs run at once (YACI_MAX_RUNNING); the rest wait (`pending`) in the fair queue. */
  concurrency: number;
  /** At most this many jobs of one installation run at once (YACI_MAX_RUNNING_PER_INSTALLATION; default: no cap). */
  maxRunningPerInstallation?: number;
  checkoutToken: CheckoutTokenSource;
  /** GitHub's REST base URL, for the tarball. */
  githubApiUrl: string;
  /** Seconds between SIGTERM and SIGKILL when a job is stopped. */
  killGraceMs?: number;
  /** Sandboxed or not, decided once at start by `localContainment()` (YACI_LOCAL_SANDBOX). */
  containment: Containment;
  /** Where a failure that no run can carry is told (a listener that threw). */
  log?: Logger;
  now?: () => Date;
  fetch?: typeof fetch;
  /**
   * A directory whose files each job that checks out gets instead of GitHub's copy of the commit
   * (`yaci run` on a working copy): copied into the workspace, without `.git` and `.yaci` (a
   * tarball has neither, and `.yaci` holds the app's logs). No token is asked for.
   */
  workspaceFrom?: string;
  /** A job's log keeps at most this many bytes: its end (YACI_LOG_MAX_BYTES, default 10 MiB). */
  logMaxBytes?: number;
  /** A checkout's files may take at most this many bytes (YACI_CHECKOUT_MAX_BYTES, default 2 GiB). */
  checkoutMaxBytes?: number;
  /** Waits before asking GitHub again for a checkout token or tarball it answered 5xx/429 or not at all (default ~30 s in all). */
  checkoutRetryDelaysMs?: readonly number[];
  /** Where the jobs' named secrets are read at start (YACI_SECRETS_DIR; default `<dataDir>/secrets`). */
  secrets?: LocalSecretStore;
}

interface Active {
  spec: RunSpec;
  /** The job's secrets, read at start: in memory only, given to its environment and masked in its log. */
  secrets: ResolvedSecrets;
  child?: ChildProcess;
  startedAt: Date;
  stopReason?: "cancelled" | "timed_out";
  timer?: NodeJS.Timeout;
  token?: string;
  /** Aborts the checkout download when the job is stopped before its command starts. */
  abort: AbortController;
  /** Set by finish(): a run ends once, whichever path ends it. */
  finished?: boolean;
  /** Why the job's output could not be stored (a full disk): the run ends as an error that says so. */
  logError?: string;
}

/** Variables a job may inherit from the app's environment: nothing secret, nothing of the app's. */
const INHERITED = ["PATH", "LANG", "LC_ALL", "TZ"];

/** How long output may stay open after the job's shell exits and its processes are killed. */
const OUTPUT_GRACE_MS = 2000;

/** A sentence for the check run when a job could not be started. */
function startError(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  if (e?.code === "E2BIG") {
    return "could not start the job: its environment is too large (E2BIG: Linux takes at most 128 KiB per variable and about 2 MiB in all)";
  }
  return `could not start the job: ${e?.message ?? String(err)}`;
}

function tryKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * The embedded executor: each job is a `sh -e` script on this machine, in a fresh workspace
 * holding the repository at the event's SHA, inside a bubblewrap sandbox unless the operator
 * turned it off or it cannot run here (see sandbox.ts). The image is not used.
 */
export class LocalExecutor implements Executor {
  readonly kind = "local" as const;
  /** Set when jobs run unsandboxed: every check run's summary says so. */
  readonly isolationWarning?: string;
  private readonly listeners = new Set<(o: JobObservation) => void>();
  /** Jobs waiting for a slot, admitted in the order of the fair queue (core/queue-policy.ts). */
  private readonly queue: { spec: RunSpec; entry: QueuedRun; secrets: ResolvedSecrets }[] = [];
  private readonly active = new Map<string, Active>();
  private readonly stateDir: string;
  private readonly workDir: string;
  /** Scripts are passed by file, never as an argument (a long one would not fit: E2BIG). */
  private readonly scriptDir: string;
  private readonly now: () => Date;
  /** Workspace removals in progress. */
  private readonly removing = new Set<Promise<void>>();

  constructor(private readonly opts: LocalExecutorOptions) {
    this.stateDir = join(opts.dataDir, "local", "running");
    this.workDir = join(opts.dataDir, "local", "workspaces");
    this.scriptDir = join(opts.dataDir, "local", "scripts");
    for (const dir of [this.stateDir, this.workDir, this.scriptDir]) mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.now = opts.now ?? (() => new Date());
    if (!opts.containment.sandboxed) this.isolationWarning = opts.containment.warning;
  }

  subscribe(fn: (o: JobObservation) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(o: JobObservation): void {
    for (const fn of this.listeners) {
      try {
        fn(o);
      } catch (err) {
        this.opts.log?.error({ runId: o.runId, err }, "a job observation's handler failed");
      }
    }
  }

  /** Jobs waiting for a free slot. */
  get queueDepth(): number {
    return this.queue.length;
  }

  async start(spec: RunSpec): Promise<void> {
    if (this.active.has(spec.id) || this.queue.some((q) => q.spec.id === spec.id)) return;
    // A missing secret fails the start (naming it and both files): the job never runs without it.
    const secrets = (this.opts.secrets ?? new LocalSecretStore(join(this.opts.dataDir, "secrets"))).forRun(spec);
    const acceptedAt = spec.acceptedAt ? Date.parse(spec.acceptedAt) : NaN;
    const entry: QueuedRun = {
      id: spec.id,
      installation: String(spec.installationId),
      repository: spec.key.owner ? `${spec.key.owner}/${spec.key.repo}` : "",
      acceptedAt: Number.isFinite(acceptedAt) ? acceptedAt : this.now().getTime(),
    };
    this.queue.push({ spec, entry, secrets });
    this.emit({ runId: spec.id, phase: "pending" });
    this.pump();
  }

  /** Starts what the fair queue admits, then tells every job still waiting where it stands. */
  private pump(): void {
    const limits = { maxRunning: this.opts.concurrency, maxRunningPerInstallation: this.opts.maxRunningPerInstallation };
    for (;;) {
      const next = nextToStart(this.queue.map((q) => q.entry), this.running(), limits);
      if (!next) break;
      const i = this.queue.findIndex((q) => q.entry === next);
      const { spec, secrets } = this.queue.splice(i, 1)[0]!;
      const a: Active = { spec, secrets, startedAt: this.now(), abort: new AbortController() };
      this.active.set(spec.id, a);
      void this.launch(a).catch((err) => this.fail(a, err));
    }
    this.tellPositions();
  }

  private running(): RunningRun[] {
    return [...this.active.values()].map((a) => ({ installation: String(a.spec.installationId), repository: a.spec.key.owner ? `${a.spec.key.owner}/${a.spec.key.repo}` : "" }));
  }

  /** A `pending` observation with its place in line for every waiting job (the scheduler decides what to show). */
  private tellPositions(): void {
    if (this.queue.length === 0) return;
    const positions = queuePositions(this.queue.map((q) => q.entry), this.running());
    for (const q of this.queue) this.emit({ runId: q.spec.id, phase: "pending", queuePosition: positions.get(q.spec.id)! });
  }

  /** Whatever went wrong starting a job, its run ends as an `error` that says why, and the app carries on. */
  private async fail(a: Active, err: unknown): Promise<void> {
    if (a.finished) return;
    if (a.child?.pid) tryKill(-a.child.pid, "SIGKILL");
    const message = startError(err);
    try {
      await this.opts.logs.append(a.spec.id, `yaci: ${message}\n`);
    } catch {
      // the log may be what failed
    }
    this.finish(a, "error", undefined, message);
  }

  private async launch(a: Active): Promise<void> {
    const { spec } = a;
    const invalid = invalidSpec(spec);
    if (invalid) {
      await this.opts.logs.write(spec.id, `yaci: ${invalid}\n`);
      return this.finish(a, "error", undefined, invalid);
    }
    writeFileSync(join(this.stateDir, `${spec.id}.json`), JSON.stringify({ spec }));
    this.emit({ runId: spec.id, phase: "running", startedAt: a.startedAt });
    // The checkout token is asked for while the workspace is prepared: neither waits for the other.
    const token =
      spec.checkout && this.opts.workspaceFrom === undefined
        ? // A token GitHub could not mint just now (5xx, 429, no answer) is asked for again, with backoff.
          withRetries(() => this.opts.checkoutToken(spec), {
            signal: a.abort.signal,
            ...(this.opts.checkoutRetryDelaysMs ? { delaysMs: this.opts.checkoutRetryDelaysMs } : {}),
            onRetry: (err, waitMs) => this.opts.log?.warn({ runId: spec.id, err: (err as Error).message, retryInMs: waitMs }, "could not get a checkout token; will retry"),
          })
        : undefined;
    token?.catch(() => undefined); // awaited below, where a failure ends the run
    const dir = join(this.workDir, spec.id);
    await rm(dir, { recursive: true, force: true });
    mkdirSync(join(dir, ".home"), { recursive: true });
    await this.opts.logs.write(spec.id, "");
    a.timer = setTimeout(() => this.stop(a, "timed_out"), spec.timeoutMs);
    try {
      if (spec.checkout && this.opts.workspaceFrom !== undefined) {
        await copyWorkspace(this.opts.workspaceFrom, dir);
      } else if (token) {
        a.token = await token;
        if (a.stopReason) return this.finish(a, a.stopReason);
        await checkout(
          { apiUrl: this.opts.githubApiUrl, owner: spec.key.owner, repo: spec.key.repo, sha: spec.key.sha, token: a.token, dir, ...(this.opts.checkoutMaxBytes ? { maxBytes: this.opts.checkoutMaxBytes } : {}), ...(this.opts.checkoutRetryDelaysMs ? { retryDelaysMs: this.opts.checkoutRetryDelaysMs } : {}) },
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
    const exitCode = await this.runScript(a, dir);
    if (a.logError) return this.finish(a, "error", exitCode, a.logError);
    if (a.stopReason) return this.finish(a, a.stopReason, exitCode);
    return this.finish(a, exitCode === 0 ? "succeeded" : "failed", exitCode);
  }

  /**
   * Runs the job's script, from a file, in the sandbox when there is one, and resolves with its
   * exit code once no process of the job is left. The job's environment is bwrap's own (bwrap
   * passes it on): it never appears on a command line, which every user of the machine can read.
   */
  private async runScript(a: Active, dir: string): Promise<number> {
    const { spec } = a;
    const { containment } = this.opts;
    const script = join(this.scriptDir, `${spec.id}.sh`);
    writeFileSync(script, spec.run, { mode: 0o600 });
    const shell = ["sh", ...(shellFlags(spec) === "-ec" ? ["-e"] : []), script];
    const env = this.jobEnv(spec, join(dir, ".home"), a.secrets);
    // Bounded to YACI_LOG_MAX_BYTES (its end is kept); a write that fails (a full disk) drops the
    // output rather than blocking the job or throwing, and the run then ends saying why.
    const log: CappedLog = await this.opts.logs.openCapped(spec.id, this.opts.logMaxBytes ?? DEFAULT_LOG_MAX_BYTES);
    log.on("error", () => undefined); // CappedLog keeps its errors in `.error`; never an uncaught one
    // detached: its own process group, so a stop reaches every child (unsandboxed) or bwrap.
    const child = containment.sandboxed
      ? spawn(containment.sandbox.bwrap, [...sandboxArgs(containment.sandbox, { workspace: dir, script }), ...shell], {
          cwd: dir,
          env,
          detached: true,
          stdio: ["ignore", "pipe", "pipe"],
        })
      : spawn(shell[0]!, shell.slice(1), { cwd: dir, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    a.child = child;
    this.opts.log?.debug?.({ runId: spec.id }, "job command started"); // the end of the checkout phase (bench/job-overhead.ts)
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once("exit", (code, signal) => resolve([code, signal]));
      child.once("error", reject); // could not be started (ENOENT, EACCES…): no "exit" follows
    });
    const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
    const drained = pipeMasked([child.stdout, child.stderr], log, Object.values(a.secrets));
    let code: number | null;
    let signal: NodeJS.Signals | null;
    try {
      [code, signal] = await exited;
    } catch (err) {
      log.destroy();
      throw err;
    }
    // The job is over when its shell exits: what it left in the background goes with it (as on
    // GitHub Actions), so a stray `server &` neither keeps the job open nor outlives it. In the
    // sandbox the kernel has already seen to it (the sandbox's init ends with the shell).
    tryKill(-child.pid!, "SIGKILL");
    if (!containment.sandboxed) killRunProcesses(spec.id); // and any that left the group (setsid)
    // Unsandboxed, a process that escaped both may still hold the output open: it is cut off.
    let cutOff: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise<void>((resolve) => (cutOff = setTimeout(resolve, OUTPUT_GRACE_MS)))]);
    clearTimeout(cutOff);
    child.stdout?.destroy();
    child.stderr?.destroy();
    await drained();
    log.end();
    await streamFinished(log).catch(() => undefined);
    if (log.error) a.logError = `the job's output could not be stored: ${log.error.message}${(log.error as NodeJS.ErrnoException).code === "ENOSPC" ? " (the disk under YACI_DATA_DIR is full)" : ""}`;
    return code ?? 128 + signalNumber(signal);
  }

  private jobEnv(spec: RunSpec, home: string, secrets: ResolvedSecrets): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    // Sandboxed, /tmp is the job's own: the app's TMPDIR would point where the job cannot write.
    const inherited = this.opts.containment.sandboxed ? INHERITED : [...INHERITED, "TMPDIR"];
    for (const name of inherited) if (process.env[name] !== undefined) env[name] = process.env[name];
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
      YACI_ATTEMPT: String(spec.attempt),
      ...secrets,
    };
  }

  private finish(a: Active, outcome: Outcome, exitCode?: number, message?: string): void {
    if (a.finished) return;
    a.finished = true;
    const { spec } = a;
    clearTimeout(a.timer);
    this.active.delete(spec.id);
    void this.removeFiles(spec.id);
    const o: JobObservation = { runId: spec.id, phase: "finished", outcome, finishedAt: this.now(), startedAt: a.startedAt };
    if (exitCode !== undefined) o.exitCode = exitCode;
    if (message) o.message = message;
    this.emit(o);
    this.pump();
  }

  /**
   * The state file, script and workspace of a run (never throws: a run must still end). The
   * workspace, which may hold gigabytes, is removed in the background (the event loop is never
   * stalled); `removing` resolves when it is gone.
   */
  private removeFiles(id: string): Promise<void> {
    for (const path of [join(this.stateDir, `${id}.json`), join(this.scriptDir, `${id}.sh`)]) {
      try {
        rmSync(path, { force: true });
      } catch (err) {
        this.opts.log?.warn({ runId: id, err }, `could not remove ${path}`);
      }
    }
    const workspace = join(this.workDir, id);
    const done = rm(workspace, { recursive: true, force: true, maxRetries: 3 })
      .catch((err) => this.opts.log?.warn({ runId: id, err }, `could not remove ${workspace}`))
      .finally(() => this.removing.delete(done));
    this.removing.add(done);
    return done;
  }

  /** Resolves once every workspace being removed is gone (tests, shutdown). */
  async removed(): Promise<void> {
    await Promise.all([...this.removing]);
  }

  /** SIGTERM to the job's processes, SIGKILL to all that is left after the grace period. */
  private stop(a: Active, reason: "cancelled" | "timed_out"): void {
    if (a.stopReason) return;
    a.stopReason = reason;
    const pid = a.child?.pid;
    if (!pid) {
      a.abort.abort(); // still checking out: launch() sees stopReason and finishes
      return;
    }
    // Sandboxed, the job's processes get the SIGTERM, not bwrap (whose end would SIGKILL them at once).
    if (!(this.opts.containment.sandboxed && signalSandbox(pid, "SIGTERM"))) {
      try {
        process.kill(-pid, "SIGTERM");
      } catch {
        return;
      }
    }
    setTimeout(() => tryKill(-pid, "SIGKILL"), this.opts.killGraceMs ?? 5000).unref();
  }

  async cancel(runId: string): Promise<void> {
    const i = this.queue.findIndex((q) => q.spec.id === runId);
    if (i >= 0) {
      // A cancelled (or superseded) job leaves the queue at once; those behind it move up.
      this.queue.splice(i, 1);
      this.emit({ runId, phase: "finished", outcome: "cancelled", finishedAt: this.now() });
      this.tellPositions();
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
        killRunProcesses(spec.id); // unsandboxed, the job's; sandboxed, bwrap (which carries the job's environment)
        void this.removeFiles(spec.id);
        found.push({ spec, observation: { runId: spec.id, phase: "finished", outcome: "interrupted", finishedAt: this.now() } });
      } catch {
        // unreadable state: nothing to adopt
      }
      rmSync(file, { force: true });
    }
    return found;
  }

  /**
   * The end of a running job's log so far, from the file its output goes to (undefined once the
   * job has ended: its final log is the reporter's). A log past YACI_LOG_MAX_BYTES shows, until the
   * job ends, its first part and a line saying so.
   */
  async liveLog(runId: string, maxBytes: number): Promise<LogTail | undefined> {
    const a = this.active.get(runId);
    if (!a || a.finished || !a.child) return undefined;
    return this.opts.logs.tail(runId, maxBytes);
  }

  async ready(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

/** Copies a working copy into a workspace: symbolic links stay links, `.git` and `.yaci` stay out. */
async function copyWorkspace(from: string, dir: string): Promise<void> {
  const root = resolve(from);
  const skip = new Set([join(root, ".git"), join(root, ".yaci")]);
  await cp(root, dir, { recursive: true, verbatimSymlinks: true, filter: (src) => !skip.has(resolve(src)) });
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return (signal && constants.signals[signal]) || 1;
}
