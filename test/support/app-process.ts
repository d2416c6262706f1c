import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { GitHubStandIn } from "./github-stand-in.js";
import { TEST_APP_ID, TEST_PRIVATE_KEY, TEST_WEBHOOK_SECRET } from "./test-app-keys.js";
import { waitFor, type WaitForOptions } from "./github-stand-in-state.js";

/** The repository root (where lib/ is built and `node lib/main.js` runs). */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Budgets (ms) of the steps every end-to-end test takes: starting the app (build stamp check,
 * Probot, listening) and stopping it. `startApp` and `stop` wait exactly this long. Budgets are
 * sized for a 2-core machine that is busy with something else too (a step is an upper bound,
 * never a speed target: those live in bench/).
 */
export const STEP_MS = { appStart: 45_000, appStop: 15_000 } as const;

/**
 * An end-to-end test's timeout: the sum of its named step budgets (each awaited step waits at most
 * its budget), so a slow machine fails the step that is slow, never vitest's default timeout.
 */
export function e2eBudget(steps: Record<string, number>): number {
  return Object.values(steps).reduce((a, b) => a + b, 0);
}

export interface StartAppOptions {
  github: GitHubStandIn;
  /** Extra environment, applied last (may override the defaults). */
  env?: Record<string, string>;
  /** YACI_DATA_DIR; a fresh temp dir unless given (pass the previous one to restart after a crash). */
  dataDir?: string;
  /** Script relative to the repo root (default lib/main.js). */
  entry?: string;
  /** How long to wait for the HTTP server (default 20 s). */
  readyTimeoutMs?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface AppProcess {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `http://127.0.0.1:PORT/api/github/webhooks` */
  webhookUrl: string;
  port: number;
  pid: number;
  dataDir: string;
  webhookSecret: string;
  /** stdout and stderr lines so far (stderr lines prefixed "[stderr] "). */
  logs(): string[];
  /** stdout lines that parse as JSON (pino, LOG_FORMAT=json). */
  jsonLogs(): Array<Record<string, unknown>>;
  /** Resolves with the first JSON log line `predicate` accepts (waits for it). */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, opts?: WaitForOptions): Promise<Record<string, unknown>>;
  /**
   * Waits until the inbox worker has handled this delivery (its debug line "delivery handled"): a
   * webhook is answered 202 when stored, before its handlers run.
   */
  waitForHandled(deliveryId: string, opts?: WaitForOptions): Promise<Record<string, unknown>>;
  /** Resolves when the process exits. */
  exited: Promise<ExitInfo>;
  /** Sends `signal` (default SIGTERM) and waits for the exit; SIGKILL after `timeoutMs` (10 s). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitInfo>;
  /** SIGKILL, for crash tests. */
  kill(): Promise<ExitInfo>;
  /** Deletes the data dir (after stop). */
  removeDataDir(): void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Spawns the built app (`node lib/main.js`) as a real Probot process pointed at the
 * GitHub stand-in (`GHE_HOST`, `GHE_PROTOCOL=http`) and waits until its HTTP server answers.
 * Set `YACI_E2E_LOGS=1` to echo the app's output.
 */
export async function startApp(opts: StartAppOptions): Promise<AppProcess> {
  const port = await freePort();
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "yaci-e2e-"));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? tmpdir(),
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    APP_ID: String(TEST_APP_ID),
    PRIVATE_KEY: TEST_PRIVATE_KEY,
    WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    GHE_HOST: opts.github.host,
    GHE_PROTOCOL: "http",
    PORT: String(port),
    HOST: "127.0.0.1",
    LOG_LEVEL: "debug",
    LOG_FORMAT: "json",
    NO_SMEE_SETUP: "true",
    YACI_DATA_DIR: dataDir,
    ...opts.env,
  };
  const child = spawn(process.execPath, ["--enable-source-maps", opts.entry ?? "lib/main.js"], {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const json: Array<Record<string, unknown>> = [];
  const echo = Boolean(process.env.YACI_E2E_LOGS);
  createInterface({ input: child.stdout! }).on("line", (line) => {
    lines.push(line);
    if (echo) process.stderr.write(`[app ${child.pid}] ${line}\n`);
    try {
      const parsed: unknown = JSON.parse(line);
      if (parsed && typeof parsed === "object") json.push(parsed as Record<string, unknown>);
    } catch {
      // not a JSON log line
    }
  });
  createInterface({ input: child.stderr! }).on("line", (line) => {
    lines.push(`[stderr] ${line}`);
    if (echo) process.stderr.write(`[app ${child.pid} stderr] ${line}\n`);
  });
  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once("exit", (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const app: AppProcess = {
    url,
    webhookUrl: `${url}/api/github/webhooks`,
    port,
    pid: child.pid ?? -1,
    dataDir,
    webhookSecret: env.WEBHOOK_SECRET!,
    logs: () => [...lines],
    jsonLogs: () => [...json],
    waitForLog: (predicate, o) => waitFor(() => json.find(predicate), { message: "log line", ...o }),
    waitForHandled: (deliveryId, o) =>
      waitFor(() => json.find((l) => l.msg === "delivery handled" && l.delivery === deliveryId), { message: `delivery ${deliveryId} to be handled`, ...o }),
    exited,
    stop: (signal = "SIGTERM", timeoutMs = STEP_MS.appStop) => stopChild(child, exited, () => exitInfo, signal, timeoutMs),
    kill: () => stopChild(child, exited, () => exitInfo, "SIGKILL", STEP_MS.appStop),
    removeDataDir: () => rmSync(dataDir, { recursive: true, force: true }),
  };
  try {
    await waitFor(
      async () => {
        if (exitInfo) throw new Error(`app exited before listening (${JSON.stringify(exitInfo)})`);
        return answers(url);
      },
      { timeoutMs: opts.readyTimeoutMs ?? STEP_MS.appStart, intervalMs: 100, message: `app on port ${port}` },
    );
  } catch (err) {
    await app.kill();
    throw new Error(`${(err as Error).message}\n--- app output ---\n${lines.join("\n")}`);
  }
  return app;
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

async function stopChild(
  child: ChildProcess,
  exited: Promise<ExitInfo>,
  current: () => ExitInfo | undefined,
  signal: NodeJS.Signals,
  timeoutMs: number,
): Promise<ExitInfo> {
  const done = current();
  if (done) return done;
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}
