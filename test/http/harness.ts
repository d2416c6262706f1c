import { createServer, type Server, type ServerResponse } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LogStore } from "../../src/logs/log-store.js";
import type { HttpDeps, HttpEnv } from "../../src/http/env.js";
import { createHttpHandler } from "../../src/http/router.js";
import { createMetrics } from "../../src/observability/metrics.js";
import { FakeRunner } from "./fake-runner.js";

export const API_TOKEN = "test-api-token-3f9c1a-0123456789abcdef";
export const LINK_SECRET = "test-link-secret-0123456789abcdef";

/** One line the HTTP surface logged. */
export interface LogLine {
  level: "debug" | "info" | "warn" | "error";
  fields: Record<string, unknown>;
  message: string;
}

export interface Harness {
  url: string;
  /** What the HTTP surface logged (unless the test passed its own `log`). */
  logLines: LogLine[];
  /** Resolves with the first logged line `match` accepts (now or later). */
  waitForLog(match: (line: LogLine) => boolean): Promise<LogLine>;
  /** The server side of every request answered so far, in arrival order. */
  responses: ServerResponse[];
  deps: HttpDeps;
  runner: FakeRunner;
  logs: LogStore;
  clock: { now: Date };
  close(): Promise<void>;
}

/**
 * A plain `http.createServer` on 127.0.0.1 serving the HTTP surface, with a FakeRunner behind
 * `submit`, a LogStore in a temporary directory and a settable clock (for link expiry).
 */
export async function startHarness(
  options: { env?: Partial<HttpEnv>; deps?: Partial<HttpDeps>; clock?: { now: Date } } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "yaci-http-"));
  const logs = new LogStore(dir);
  const metrics = createMetrics();
  const clock = options.clock ?? { now: new Date() };
  const runner = new FakeRunner(logs, metrics);
  const logLines: LogLine[] = [];
  const waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  const record = (level: LogLine["level"]) => (fields: object, message: string) => {
    const line: LogLine = { level, fields: fields as Record<string, unknown>, message };
    logLines.push(line);
    for (const w of [...waiters]) {
      if (w.match(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  const responses: ServerResponse[] = [];
  const env: HttpEnv = {
    apiToken: API_TOKEN,
    linkSecret: LINK_SECRET,
    publicUrl: "http://127.0.0.1",
    logRetentionMs: 14 * 86_400_000,
    linkTtlMs: 3_600_000,
    ...options.env,
  };
  // `undefined` in the overrides means "unset" (e.g. API off).
  for (const k of Object.keys(env) as (keyof HttpEnv)[]) if (env[k] === undefined) delete env[k];
  const deps: HttpDeps = {
    runs: { get: runner.get },
    logs,
    submit: runner.submit,
    ready: async () => true,
    metrics,
    now: () => clock.now,
    env,
    pollIntervalMs: 100,
    log: { debug: record("debug"), info: record("info"), warn: record("warn"), error: record("error") },
    ...options.deps,
  };
  const handler = createHttpHandler(deps);
  const server: Server = createServer((req, res) => {
    responses.push(res);
    handler(req, res).then(
      (handled) => {
        if (!handled) {
          res.writeHead(404, { "content-type": "text/plain" });
          res.end("not handled by YACI\n");
        }
      },
      (err: unknown) => {
        res.writeHead(500);
        res.end(String(err));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    logLines,
    waitForLog(match) {
      const seen = logLines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
    responses,
    deps,
    runner,
    logs,
    clock,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await runner.idle();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `fn` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
