import { execFile } from "node:child_process";
import { accessSync, constants as fs, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * How the local executor contains a job: a bubblewrap (`bwrap`) sandbox with its own user, PID,
 * IPC and UTS namespaces, the host's filesystem read-only, the app's files, data and home hidden,
 * and a private `/tmp`. When the job's first process ends, the kernel ends every other process of
 * the sandbox (it is the init of its PID namespace): nothing a job starts outlives it.
 */

export const SANDBOX_MODES = ["auto", "required", "off"] as const;
/** YACI_LOCAL_SANDBOX: `auto` sandboxes where bwrap works, else warns; `required` refuses to start without it. */
export type SandboxMode = (typeof SANDBOX_MODES)[number];

export const NETWORK_MODES = ["host", "none"] as const;
/** YACI_LOCAL_NETWORK: `host` (jobs fetch dependencies) or `none` (a network namespace with only loopback). */
export type NetworkMode = (typeof NETWORK_MODES)[number];

/** A sandbox that was probed and works: every job runs in one built from these. */
export interface Sandbox {
  /** The absolute path of bwrap (a job's own PATH must not decide which program contains it). */
  bwrap: string;
  network: NetworkMode;
  /** Covered with an empty tmpfs: the data dir, the app's directories, the app user's home. */
  hiddenDirs: string[];
  /** Covered with /dev/null: the private key file, `.env`. */
  hiddenFiles: string[];
}

/** Decided once at start: jobs run sandboxed, or not and every check run says so. */
export type Containment = { sandboxed: true; sandbox: Sandbox } | { sandboxed: false; warning: string };

const RISK = "the job runs as the app's own user and can read the app's secrets, files and other runs' logs";

/** Directories a job cannot do without: never hidden, nor any directory above them. */
const SYSTEM_DIRS = ["/bin", "/sbin", "/lib", "/lib64", "/usr", "/etc", "/dev", "/proc", "/sys", "/var", "/opt", "/nix", "/run"];

/** The directory holding the app's package.json (the app's code), found from this file. */
function appRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

function realPath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

const inside = (path: string, dir: string) => path === dir || path.startsWith(dir === "/" ? "/" : dir + sep);

/**
 * What a job must not see: `dataDir` (its own workspace is bound back in), YACI_SECRETS_DIR, the
 * app's working directory and code, the app user's home, the private key file and `.env`. Directories are
 * sorted so none sits inside another hidden one (or inside the private /tmp).
 */
function hiddenPaths(dataDir: string, env: Record<string, string | undefined>, cwd = process.cwd()): Pick<Sandbox, "hiddenDirs" | "hiddenFiles"> {
  const code = appRoot();
  const secrets = env.YACI_SECRETS_DIR?.trim() ? [resolve(cwd, env.YACI_SECRETS_DIR.trim())] : []; // the secret store, wherever it is
  const dirs = [dataDir, cwd, code, homedir(), ...secrets]
    .map(realPath)
    .filter((d): d is string => d !== undefined && !SYSTEM_DIRS.some((s) => inside(s, d)))
    .sort((a, b) => a.length - b.length);
  const hiddenDirs: string[] = [];
  for (const d of dirs) if (!inside(d, "/tmp") && !hiddenDirs.some((h) => inside(d, h))) hiddenDirs.push(d);
  const files = [env.PRIVATE_KEY_PATH && resolve(cwd, env.PRIVATE_KEY_PATH), join(cwd, ".env"), join(code, ".env")]
    .map((f) => (f ? realPath(f) : undefined))
    .filter((f): f is string => f !== undefined && statSync(f).isFile());
  const hiddenFiles = [...new Set(files)].filter((f) => !inside(f, "/tmp") && !hiddenDirs.some((h) => inside(f, h)));
  return { hiddenDirs, hiddenFiles };
}

/**
 * bwrap's arguments for one job (the command follows them). The workspace is bound read-write
 * at its own path, after the data dir is hidden; the script, read-only, at its own path too.
 */
export function sandboxArgs(sandbox: Sandbox, job: { workspace: string; script?: string; infoFd?: number }): string[] {
  const args = ["--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"];
  if (sandbox.network === "none") args.push("--unshare-net");
  // No capability in the sandbox even when the app runs as root: they would let it unmount what hides the app's files.
  args.push("--die-with-parent", "--new-session", "--cap-drop", "ALL");
  args.push("--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp");
  for (const dir of sandbox.hiddenDirs) args.push("--tmpfs", dir);
  for (const file of sandbox.hiddenFiles) args.push("--ro-bind", "/dev/null", file);
  args.push("--bind", job.workspace, job.workspace);
  if (job.script) args.push("--ro-bind", job.script, job.script);
  args.push("--chdir", job.workspace);
  if (job.infoFd !== undefined) args.push("--info-fd", String(job.infoFd));
  return args;
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), fs.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Starts a sandbox exactly as a job's, running `true`: undefined when it works, else why not. */
async function probe(sandbox: Sandbox, dataDir: string): Promise<string | undefined> {
  const workspace = join(dataDir, "local", "workspaces", `.probe-${process.pid}`);
  mkdirSync(workspace, { recursive: true, mode: 0o700 });
  try {
    await new Promise<void>((ok, fail) =>
      execFile(sandbox.bwrap, [...sandboxArgs(sandbox, { workspace }), "true"], { env: { PATH: process.env.PATH }, timeout: 10_000 }, (err, _out, stderr) =>
        err ? fail(new Error(String(stderr).trim().split("\n")[0] || err.message)) : ok(),
      ),
    );
    return undefined;
  } catch (err) {
    return (err as Error).message.slice(0, 300);
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}

function oneOf<T extends string>(name: string, values: readonly T[], raw: string | undefined, fallback: T): T {
  if (raw === undefined || raw === "") return fallback;
  if ((values as readonly string[]).includes(raw)) return raw as T;
  throw new Error(`${name} must be one of ${values.join(", ")}; got "${raw}"`);
}

/**
 * Reads YACI_LOCAL_SANDBOX and YACI_LOCAL_NETWORK and decides, once, how jobs will run: bwrap is
 * probed by starting a real sandbox. `required` throws when it cannot; `auto` and `off` return a
 * warning for the log and every check run.
 */
export async function localContainment(env: Record<string, string | undefined>, dataDir: string): Promise<Containment> {
  const mode = oneOf("YACI_LOCAL_SANDBOX", SANDBOX_MODES, env.YACI_LOCAL_SANDBOX, "auto");
  const network = oneOf("YACI_LOCAL_NETWORK", NETWORK_MODES, env.YACI_LOCAL_NETWORK, "host");
  if (mode === "off") {
    if (network === "none") throw new Error("YACI_LOCAL_NETWORK=none needs the sandbox: set YACI_LOCAL_SANDBOX=auto or required");
    return { sandboxed: false, warning: `not sandboxed (YACI_LOCAL_SANDBOX=off): ${RISK}` };
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 }); // hidden only if it exists
  if (env.YACI_SECRETS_DIR?.trim()) mkdirSync(resolve(env.YACI_SECRETS_DIR.trim()), { recursive: true, mode: 0o700 });
  const bwrap = findOnPath("bwrap");
  const sandbox: Sandbox | undefined = bwrap ? { bwrap, network, ...hiddenPaths(dataDir, env) } : undefined;
  const problem = sandbox ? await probe(sandbox, dataDir) : "bwrap is not installed";
  if (sandbox && problem === undefined) return { sandboxed: true, sandbox };
  if (mode === "required") {
    throw new Error(
      `YACI_LOCAL_SANDBOX=required, but bubblewrap cannot start a sandbox here: ${problem}. Install bubblewrap ` +
        "(Debian: apt-get install bubblewrap; Alpine: apk add bubblewrap) where user namespaces are allowed " +
        "(in Docker: --security-opt seccomp=unconfined, or a profile that allows clone with CLONE_NEWUSER), " +
        "or use YACI_EXECUTOR=kubernetes.",
    );
  }
  const lost = network === "none" ? " (nor is its network cut off: YACI_LOCAL_NETWORK=none needs the sandbox)" : "";
  return { sandboxed: false, warning: `not sandboxed (bubblewrap cannot start a sandbox: ${problem})${lost}: ${RISK}` };
}

function pids(): number[] {
  try {
    return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map(Number);
  } catch {
    return [];
  }
}

function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]); // after "(comm)": state, ppid
  } catch {
    return undefined;
  }
}

/**
 * Signals every process of the sandbox that `bwrap` (its host pid) runs, but the sandbox's init,
 * which ignores signals and ends when the job's shell does. The init is bwrap's one child; its
 * PID namespace (a kernel object, never reused while it lives) tells the job's processes apart
 * from any other. False when there is no such sandbox (yet, or any more).
 */
export function signalSandbox(bwrap: number, signal: NodeJS.Signals): boolean {
  const all = pids();
  const init = all.find((pid) => parentPid(pid) === bwrap);
  let ns: string;
  try {
    ns = readlinkSync(`/proc/${init}/ns/pid`);
    if (init === undefined || ns === readlinkSync("/proc/self/ns/pid")) return false;
  } catch {
    return false;
  }
  for (const pid of all) {
    if (pid === init) continue;
    try {
      if (readlinkSync(`/proc/${pid}/ns/pid`) === ns) process.kill(pid, signal);
    } catch {
      // gone
    }
  }
  return true;
}

/**
 * Kills every process that carries a run's `YACI_RUN_ID=<id>` variable (a reused pid of some other
 * program is never hit): an unsandboxed job's leftovers, or after a restart a sandbox (bwrap itself
 * carries the job's environment). Returns how many were signalled. Linux only (/proc).
 */
export function killRunProcesses(runId: string, signal: NodeJS.Signals = "SIGKILL"): number {
  const marker = Buffer.from(`YACI_RUN_ID=${runId}\0`);
  let killed = 0;
  for (const pid of pids()) {
    if (pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/environ`).includes(marker)) {
        process.kill(pid, signal);
        killed++;
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return killed;
}
