/**
 * Per-job overhead (issue 12): what YACI adds to a job, end to end. The real app process
 * (`node lib/main.js`, local executor, sandbox as configured by default) against the GitHub
 * stand-in on loopback. Each push is one job; the next is sent once the previous one's completed
 * check run arrived. Printed per command:
 *   - the bare command (`sh -c CMD` spawned by this process, spawn → exit), median of the runs;
 *   - webhook sent → completed check run on GitHub, median, as ms added to the bare command and
 *     as a ratio;
 *   - a per-phase timeline of the median push, from the stand-in's request log (arrival times)
 *     and the app's JSON log lines: config read, first check-run write (queued or later), checkout
 *     token (when one was minted), tarball, command started, command ended, completed write.
 * Then N pushes of one installation sent at once: time until all N check runs are completed, and
 * the most writes of the installation within any 60 s and 1 h (GitHub: 80 and 500).
 * Usage: node --import tsx bench/job-overhead.ts [trueRuns=10] [sleepRuns=3] [burst=200]
 */
import { execSync, spawn } from "node:child_process";
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";
import { startApp, type AppProcess } from "../test/support/app-process.js";
import { startGitHubStandIn, waitFor, type GitHubStandIn } from "../test/support/github-stand-in.js";
import { loadExample, sendWebhook, withInstallation } from "../test/support/webhooks.js";

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");
let seq = 0;

/** A push of a fresh commit (its own branch) whose `.yaci.yml` runs `run`. */
function push(github: GitHubStandIn, installation: number, run: string) {
  const n = ++seq;
  const sha = n.toString(16).padStart(8, "0") + "be".repeat(16);
  const payload = withInstallation(loadExample("push", (p) => p.ref.startsWith("refs/heads/") && !p.deleted), installation);
  payload.after = sha;
  payload.ref = `refs/heads/bench-${n}`;
  const owner = (payload.repository.owner as { login: string }).login;
  const repo = payload.repository.name;
  github.setFiles(owner, repo, sha, { ".yaci.yml": `run: ${JSON.stringify(run)}\n` }); // quoted: `run: true` would be a boolean
  return { sha, owner, repo, payload };
}

/** `sh -c CMD` spawned and reaped here: the time the command itself takes. */
function bare(cmd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn("sh", ["-c", cmd], { stdio: "ignore" });
    child.once("error", reject);
    child.once("exit", () => resolve(performance.now() - t0));
  });
}

interface Timeline {
  total: number;
  phases: Array<[string, number | undefined]>;
}

/** One push, sent when nothing else runs; its phases in ms after the webhook was sent. */
async function onePush(github: GitHubStandIn, app: AppProcess, installation: number, run: string): Promise<Timeline> {
  const c = push(github, installation, run);
  const from = github.requests.length;
  const t0 = Date.now();
  const status = await sendWebhook(app.webhookUrl, { event: "push", payload: c.payload, secret: app.webhookSecret });
  if (status !== 202) throw new Error(`webhook answered ${status}`);
  const answered = Date.now();
  const final = await waitFor(
    () => github.requests.slice(from).find((r) => r.method !== "GET" && r.path.includes("/check-runs") && (r.body as { status?: string })?.status === "completed" && r.status !== undefined),
    { timeoutMs: 120_000, intervalMs: 2, message: "the completed check run" },
  );
  const reqs = github.requests.slice(from);
  const at = (pred: (r: (typeof reqs)[number]) => boolean) => {
    const r = reqs.find(pred);
    return r ? r.time.getTime() - t0 : undefined;
  };
  const runId = github.checkRunsFor(c.owner, c.repo, c.sha)[0]?.external_id ?? "?";
  const log = (msg: string) => {
    const line = app.jsonLogs().find((l) => l.runId === runId && l.msg === msg);
    return line ? Number(line.time) - t0 : undefined;
  };
  const body = final.body as { completed_at?: string };
  return {
    total: final.time.getTime() - t0,
    phases: [
      ["webhook answered (202)", answered - t0],
      ["config read", at((r) => r.path.endsWith("/contents/.yaci.yml"))],
      ["job started (run in_progress)", log("run in_progress")],
      ["first check-run write", at((r) => r.method === "POST" && r.path.endsWith("/check-runs"))],
      ["checkout token minted", at((r) => r.path.endsWith("/access_tokens"))],
      ["tarball requested", at((r) => r.path.includes("/tarball/"))],
      ["command started", log("job command started")],
      ["command ended (completed_at)", body.completed_at ? Date.parse(body.completed_at) - t0 : undefined],
      ["completed write arrived", final.time.getTime() - t0],
    ],
  };
}

async function overhead(runs: Record<string, number>): Promise<void> {
  const github = await startGitHubStandIn();
  const app = await startApp({ github, env: { YACI_CATCHUP_INTERVAL: "off", LOG_LEVEL: "debug" } });
  const installation = 7001;
  const sandbox = app.jsonLogs().some((l) => /not sandboxed/.test(String(l.msg))) ? "unsandboxed" : "sandboxed (bwrap)";
  try {
    const cold = await onePush(github, app, installation, "true"); // first push: connections, JIT, the token
    console.log(`  first push (cold: token minted, connections opened): ${cold.total} ms to the completed check run`);
    for (const [cmd, n] of Object.entries(runs)) {
      const bareMs: number[] = [];
      const lines: Timeline[] = [];
      for (let i = 0; i < n; i++) {
        bareMs.push(await bare(cmd));
        lines.push(await onePush(github, app, installation, cmd));
      }
      const b = median(bareMs);
      const med = lines.slice().sort((x, y) => x.total - y.total)[Math.floor(lines.length / 2)]!;
      console.log(
        `  \`${cmd}\` (${sandbox}), ${n} runs: bare \`sh -c\` ${b.toFixed(0)} ms; push → completed check run median ${med.total} ms ` +
          `(min ${Math.min(...lines.map((l) => l.total))}, max ${Math.max(...lines.map((l) => l.total))}): ` +
          `${(med.total - b).toFixed(0)} ms added, ratio ${(med.total / b).toFixed(3)}; load ${load()}`,
      );
      console.log(`    timeline of the median push (ms after the webhook was sent):`);
      for (const [name, ms] of med.phases) console.log(`      ${name.padEnd(32)} ${ms === undefined ? "—" : String(ms).padStart(6)}`);
    }
  } finally {
    await app.stop();
    app.removeDataDir();
    await github.close();
  }
}

async function burst(n: number): Promise<void> {
  const github = await startGitHubStandIn();
  const app = await startApp({ github, env: { YACI_CATCHUP_INTERVAL: "off", LOG_LEVEL: "info" } });
  const installation = 7002;
  try {
    const pushes = Array.from({ length: n }, () => push(github, installation, "true"));
    const loadBefore = load();
    const t0 = Date.now();
    const statuses = await Promise.all(pushes.map((c) => sendWebhook(app.webhookUrl, { event: "push", payload: c.payload, secret: app.webhookSecret })));
    const answered = Date.now() - t0;
    const done = (c: (typeof pushes)[number]) => github.checkRunsFor(c.owner, c.repo, c.sha).some((r) => r.status === "completed");
    await waitFor(() => pushes.every(done), { timeoutMs: 900_000, intervalMs: 50, message: `all ${n} pushes completed` });
    const total = Date.now() - t0;
    const writes = github.writesBy(installation);
    const kinds: Record<string, number> = {};
    for (const w of writes) {
      const k = `${w.method === "POST" ? "create" : "update"} ${(w.body as { status?: string })?.status ?? "?"}`;
      kinds[k] = (kinds[k] ?? 0) + 1;
    }
    console.log(
      `  ${n} pushes of one installation at once (\`true\`, YACI_LOCAL_CONCURRENCY default ${availableParallelism()}): all answered after ${answered} ms ` +
        `(${[...new Set(statuses)].join(",")}); all completed after ${(total / 1000).toFixed(1)} s; writes ${JSON.stringify(kinds)}; ` +
        `most in 60 s: ${github.mostWritesInWindow(installation, 60_000)} (limit 80), in 1 h: ${github.mostWritesInWindow(installation, 3_600_000)} (limit 500); ` +
        `load before ${loadBefore}, after ${load()}`,
    );
  } finally {
    await app.stop();
    app.removeDataDir();
    await github.close();
  }
}

{
  execSync("node scripts/build-if-stale.mjs", { stdio: "inherit" });
  const [trueRuns = 10, sleepRuns = 3, burstSize = 200] = process.argv.slice(2).map(Number);
  console.log(
    `job overhead — node ${process.version}, nproc ${availableParallelism()}, ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB; load average ${load()}`,
  );
  await overhead({ true: trueRuns, "sleep 5": sleepRuns });
  if (burstSize > 0) await burst(burstSize);
  process.exit(0);
}
