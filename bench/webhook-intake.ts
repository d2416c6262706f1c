/**
 * Webhook intake under a burst: N signed push deliveries sent at once to the real app process
 * (`node lib/main.js`, as `npm start` runs it) against the GitHub stand-in on loopback. Prints the
 * time to each HTTP answer (p50, p99, max), and the time until every delivery's check run exists.
 * The pushes are spread over 20 installations (GitHub's per-installation write budget would
 * otherwise be what is measured); jobs run on the local executor, one at a time.
 * Each size runs twice: all at once (a burst: the answers queue behind each other), then paced at
 * one delivery every 10 ms (100/s: the time one answer takes). Set BENCH_HOLD=1 to hold the
 * handlers (GitHub's config reads) during the burst, to see the intake alone.
 * Usage: node --import tsx bench/webhook-intake.ts [N=200] [N2 …]
 */
import { execSync } from "node:child_process";
import { Agent, request } from "node:http";
import { cpus, totalmem } from "node:os";
import { Worker } from "node:worker_threads";
import { startApp } from "../test/support/app-process.js";
import { startGitHubStandIn, waitFor } from "../test/support/github-stand-in.js";
import { loadExample, webhookHeaders, withInstallation } from "../test/support/webhooks.js";

const INSTALLATIONS = 20;
const pct = (xs: number[], p: number) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
let round = 0;

/** POSTs one delivery; resolves with its status and the ms until the answer's headers arrived. */
function post(url: string, agent: Agent, body: string, headers: Record<string, string>): Promise<{ status: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(url, { method: "POST", agent, headers: { ...headers, "content-length": String(Buffer.byteLength(body)) } }, (res) => {
      const ms = performance.now() - t0;
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, ms }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** `intervalMs` 0: all at once (a burst); otherwise one delivery every `intervalMs`. */
async function bench(n: number, intervalMs = 0): Promise<void> {
  round++;
  const github = await startGitHubStandIn();
  const app = await startApp({ github, env: { YACI_CATCHUP_INTERVAL: "off", YACI_LOCAL_CONCURRENCY: "1", LOG_LEVEL: "info", ...(process.env.BENCH_PROF ? { NODE_OPTIONS: `--import ${process.env.BENCH_PROF}` } : {}) } });
  const agent = new Agent({ keepAlive: true, maxSockets: n + 10 });
  const deliveries = Array.from({ length: n + 5 }, (_, i) => {
    const installation = 10_000 * round + (i % INSTALLATIONS);
    const owner = `org${installation}`;
    const repo = `repo${i}`;
    const sha = `${round}`.padStart(4, "0") + i.toString(16).padStart(36, "0");
    const p = withInstallation(loadExample("push", (x) => x.ref.startsWith("refs/heads/") && !x.deleted), installation);
    p.after = sha;
    p.repository = { ...p.repository, id: 1_000_000 * round + i, name: repo, full_name: `${owner}/${repo}`, owner: { ...p.repository.owner, login: owner, name: owner } };
    github.setFiles(owner, repo, sha, { ".yaci.yml": "run: true\n" });
    const body = JSON.stringify(p);
    return { owner, repo, sha, body, headers: webhookHeaders(body, { event: "push", secret: app.webhookSecret }) };
  });
  // Warm-up: a few deliveries first (connections, JIT, installation tokens of the first installations).
  const warm = deliveries.splice(0, 5);
  await Promise.all(warm.map((d) => post(app.webhookUrl, agent, d.body, d.headers)));
  await waitFor(() => warm.every((d) => github.checkRunsFor(d.owner, d.repo, d.sha).length > 0), { timeoutMs: 60_000 });

  // The burst comes from a thread of its own: the stand-in's work (OpenAPI validation) does not
  // delay the reading of the answers. Its connections are opened before the clock starts.
  const held = process.env.BENCH_HOLD ? github.hold({ pathPattern: "/contents/.yaci.yml" }) : undefined;
  const client = new Worker(CLIENT, { eval: true, workerData: { url: app.webhookUrl, intervalMs, deliveries: deliveries.map((d) => ({ body: d.body, headers: d.headers })) } });
  const result = new Promise<{ answers: Array<{ status: number; ms: number }>; tAnswered: number; startedAt: number }>((resolve, reject) => {
    client.once("message", resolve);
    client.once("error", reject);
  });
  const { answers, tAnswered, startedAt } = await result;
  held?.release();
  await waitFor(() => deliveries.every((d) => github.checkRunsFor(d.owner, d.repo, d.sha).length > 0), { timeoutMs: 300_000, intervalMs: 20 });
  const tCheckRuns = Date.now() - startedAt;
  const ms = answers.map((a) => a.ms);
  const codes = [...new Set(answers.map((a) => a.status))].join(",");
  const bytes = deliveries[0]!.body.length;
  console.log(
    `${n} deliveries ${intervalMs ? `one every ${intervalMs} ms` : "at once"} (${(bytes / 1024).toFixed(1)} KiB each, answered ${codes}): answer p50 ${pct(ms, 50).toFixed(1)} ms, ` +
      `p99 ${pct(ms, 99).toFixed(1)} ms, max ${Math.max(...ms).toFixed(1)} ms, all answered after ${tAnswered.toFixed(0)} ms; ` +
      `every check run created after ${(tCheckRuns / 1000).toFixed(2)} s`,
  );
  agent.destroy();
  await app.stop();
  app.removeDataDir();
  await github.close();
}

/**
 * The client thread (plain JavaScript, run with `eval`): opens its connections first (one GET per
 * socket, so the burst pays for no TCP handshake), then sends every delivery at once and times
 * each answer from the moment its request is written to the arrival of the answer's headers.
 */
const CLIENT = `
const { Agent, request } = require("node:http");
const { parentPort, workerData } = require("node:worker_threads");
const { url, deliveries } = workerData;
const agent = new Agent({ keepAlive: true, maxSockets: deliveries.length + 10 });
const get = () => new Promise((resolve) => request(url.replace(/\\/api\\/github\\/webhooks$/, "/healthz"), { agent }, (res) => res.resume().on("end", resolve)).end());
const post = (d) => new Promise((resolve, reject) => {
  const t0 = performance.now();
  const req = request(url, { method: "POST", agent, headers: { ...d.headers, "content-length": String(Buffer.byteLength(d.body)) } }, (res) => {
    const ms = performance.now() - t0;
    res.resume();
    res.on("end", () => resolve({ status: res.statusCode, ms }));
  });
  req.on("error", reject);
  req.end(d.body);
});
(async () => {
  await Promise.all(deliveries.map(get));
  const startedAt = Date.now();
  const t0 = performance.now();
  const gap = workerData.intervalMs;
  const answers = await Promise.all(deliveries.map((d, i) => (gap ? new Promise((r) => setTimeout(r, i * gap)).then(() => post(d)) : post(d))));
  parentPort.postMessage({ answers, tAnswered: performance.now() - t0, startedAt });
  agent.destroy();
})();
`;

{
  execSync("node scripts/build-if-stale.mjs", { stdio: "inherit" });
  const sizes = process.argv.slice(2).map(Number).filter(Boolean);
  console.log(`webhook intake — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB`);
  for (const n of sizes.length ? sizes : [200]) {
    await bench(n);
    await bench(n, 10);
  }
  process.exit(0);
}
