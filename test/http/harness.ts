import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LogStore } from "../../src/logs/log-store.js";
import type { HttpDeps, HttpEnv } from "../../src/http/env.js";
import { createHttpHandler } from "../../src/http/router.js";
import { createMetrics } from "../../src/observability/metrics.js";
import { FakeRunner } from "./fake-runner.js";

export const API_TOKEN = "test-api-token-3f9c1a";
export const LINK_SECRET = "test-link-secret-0123456789abcdef";

export interface Harness {
  url: string;
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
    ...options.deps,
  };
  const handler = createHttpHandler(deps);
  const server: Server = createServer((req, res) => {
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
