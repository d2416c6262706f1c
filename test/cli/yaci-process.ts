import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The repository root; the CLI runs as `node bin/yaci.js` (lib/cli/main.js, built by the global setup). */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const BIN = `${ROOT}bin/yaci.js`;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  /** Resolves with everything written so far, once `text` appears on stdout. */
  waitForStdout(text: string): Promise<string>;
  result: Promise<CliResult>;
}

/** Starts `yaci ARGS` as a real process (pipes, so no terminal: no colours). */
export function startYaci(args: string[], opts: { cwd?: string; env?: Record<string, string>; input?: string } = {}): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/", ...opts.env },
    stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  let stdout = "";
  let stderr = "";
  const waiters: Array<{ text: string; resolve: (s: string) => void }> = [];
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    for (const w of waiters.splice(0)) {
      if (stdout.includes(w.text)) w.resolve(stdout);
      else waiters.push(w);
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const result = new Promise<CliResult>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return {
    child,
    result,
    waitForStdout: (text) =>
      new Promise((resolve, reject) => {
        if (stdout.includes(text)) return resolve(stdout);
        waiters.push({ text, resolve });
        void result.then((r) => reject(new Error(`yaci exited (${r.code}) before printing ${JSON.stringify(text)}:\n${r.stdout}\n${r.stderr}`)));
      }),
  };
}

export function yaci(args: string[], opts: { cwd?: string; env?: Record<string, string>; input?: string } = {}): Promise<CliResult> {
  return startYaci(args, opts).result;
}
