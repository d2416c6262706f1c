/**
 * The run page on a big log: how long `GET /runs/<id>` takes, the longest stretch it keeps the event
 * loop busy (other requests wait that long), and how much the server holds for a live-stream client
 * that reads nothing. Usage: node --import tsx bench/run-page.ts [MiB=8] [MiB …]
 */
import { createServer } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { RunView } from "../src/http/env.js";
import { signRunLink } from "../src/http/access.js";
import { createHttpHandler } from "../src/http/router.js";
import { LogStore } from "../src/logs/log-store.js";
import { createMetrics } from "../src/observability/metrics.js";

const SECRET = "bench-link-secret-0123456789abcdef0123456789";
const sizes = process.argv.slice(2).map(Number).filter(Boolean);
console.log(`run page — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}`);

for (const mib of sizes.length ? sizes : [8, 24]) {
  const dir = mkdtempSync(join(tmpdir(), "yaci-bench-page-"));
  const logs = new LogStore(dir);
  const id = "yaci-bench-1";
  const line = "\x1b[32m✓\x1b[0m step <output> & more text in the log of a long build\n";
  const chunk = line.repeat(Math.ceil((1 << 20) / Buffer.byteLength(line)));
  for (let i = 0; i < mib; i++) await logs.append(id, chunk);
  const run: RunView = {
    spec: { id, key: { owner: "o", repo: "r", sha: "s", job: "build" }, attempt: 1, event: "push", installationId: 1, ref: "", image: "alpine", run: "true", timeoutMs: 1, env: {}, checkout: false },
    executor: "local",
    phase: "completed",
    conclusion: "success",
    createdAt: new Date().toISOString(),
  };
  const responses: import("node:http").ServerResponse[] = [];
  const handler = createHttpHandler({
    runs: { get: (r) => (r === id ? run : undefined) },
    logs,
    submit: async () => ({ id }),
    ready: async () => true,
    metrics: createMetrics({ defaultMetrics: false }),
    now: () => new Date(),
    env: { linkSecret: SECRET, logRetentionMs: 86_400_000, linkTtlMs: 86_400_000 },
    streamLimits: { blockedMs: 2000 },
  });
  const server = createServer((req, res) => {
    responses.push(res);
    void handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  const token = signRunLink(id, SECRET, new Date(Date.now() + 3_600_000));

  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const t0 = performance.now();
  const page = await fetch(`http://127.0.0.1:${port}/runs/${id}?token=${token}`);
  const html = await page.text();
  const ms = performance.now() - t0;
  delay.disable();

  // A live-stream client that reads nothing: what does the server buffer for it?
  const socket = connect(port, "127.0.0.1", () => {
    socket.pause();
    socket.write(`GET /runs/${id}/events?token=${token}&offset=0 HTTP/1.1\r\nHost: x\r\n\r\n`);
  });
  let buffered = 0;
  const until = Date.now() + 1500;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    buffered = Math.max(buffered, responses.at(-1)?.writableLength ?? 0);
  }
  socket.destroy();
  console.log(
    `${mib} MiB log: page ${ms.toFixed(0)} ms, ${(html.length / 1024).toFixed(0)} KiB of HTML, longest event-loop stall ${(delay.max / 1e6).toFixed(1)} ms; ` +
      `non-reading stream client: at most ${(buffered / 1024).toFixed(0)} KiB buffered in the server`,
  );
  server.closeAllConnections();
  server.close();
  rmSync(dir, { recursive: true, force: true });
}
