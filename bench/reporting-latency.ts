/**
 * How fast final results reach GitHub when many jobs of several installations end at once, and
 * how many writes each installation sends per minute. The app runs in-process (Probot, yaciOctokit,
 * the real reporter) against the GitHub stand-in on loopback; jobs are driven by the fake executor.
 * Usage: node --import tsx bench/reporting-latency.ts [installations=2] [jobs=20] [installations jobs …]
 */
import { mkdtempSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { Probot } from "probot";
import { createApp } from "../src/app.js";
import { createGitHubClient, type Deps } from "../src/deps.js";
import { FakeExecutor } from "../test/fakes/fake-executor.js";
import { startGitHubStandIn, waitFor } from "../test/support/github-stand-in.js";
import { TEST_APP_ID, TEST_PRIVATE_KEY } from "../test/support/test-app-keys.js";
import { loadExample, withInstallation } from "../test/support/webhooks.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

const pct = (xs: number[], p: number) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

let nextInstallation = 1000; // each round its own installations (and its own client, so its own write budget)

async function bench(installations: number, jobs: number): Promise<void> {
  const github = await startGitHubStandIn();
  const fake = new FakeExecutor();
  const client = createGitHubClient();
  const probot = new Probot({ appId: TEST_APP_ID, privateKey: TEST_PRIVATE_KEY, secret: "s", baseUrl: github.baseUrl, Octokit: client.Octokit, logLevel: "error" });
  let deps!: Deps;
  const env = { YACI_DATA_DIR: mkdtempSync(join(tmpdir(), "yaci-bench-")), YACI_CATCHUP_INTERVAL: "off" };
  await probot.load(createApp(env, { github: client, executor: fake }, (d) => (deps = d)), { cwd: process.cwd(), addHandler: () => {} });
  const config = "jobs:\n" + Array.from({ length: jobs }, (_, i) => `  job${i}:\n    run: echo ${i}\n`).join("");
  for (let i = 0; i < installations; i++) {
    const id = nextInstallation++;
    const owner = `org${id}`;
    const sha = i.toString(16).padStart(40, "e");
    github.addInstallation(id, { account: owner } as Any);
    github.setFiles(owner, "repo", sha, { ".yaci.yml": config });
    const p: Any = withInstallation(loadExample("push", (x) => x.ref.startsWith("refs/heads/") && !x.deleted), id);
    p.after = sha;
    p.repository = { ...p.repository, name: "repo", full_name: `${owner}/repo`, owner: { ...p.repository.owner, login: owner, name: owner } };
    await probot.receive({ id: `push-${id}`, name: "push", payload: p } as Any);
  }
  const total = installations * jobs;
  await waitFor(() => fake.started.length === total, { timeoutMs: 120_000 });
  for (const s of fake.started) fake.run(s.id);
  // Every job runs; what GitHub shows of that depends on the write budget (in-progress writes may be skipped).
  await waitFor(() => deps.store.list((r) => r.phase === "in_progress").length === total, { timeoutMs: 120_000 });
  await deps.reporter.idle();
  const endedAt = Date.now();
  for (const s of fake.started) fake.finish(s.id, "succeeded", 0, new Date(endedAt));
  await waitFor(() => github.checkRuns.filter((r) => r.status === "completed").length === total, { timeoutMs: 300_000 });
  await deps.reporter.idle();
  const lateness = github.requests
    .filter((r) => (r.method === "PATCH" || r.method === "POST") && r.path.includes("/check-runs") && (r.body as Any)?.status === "completed")
    .map((r) => r.time.getTime() - endedAt);
  const perInstallation = new Map<number, number[]>();
  for (const r of github.requests) {
    const inst = r.token?.installationId;
    if (r.method === "GET" || inst === undefined) continue;
    perInstallation.set(inst, [...(perInstallation.get(inst) ?? []), r.time.getTime()]);
  }
  let maxPerMinute = 0;
  for (const times of perInstallation.values()) {
    for (const t of times) maxPerMinute = Math.max(maxPerMinute, times.filter((x) => x >= t && x < t + 60_000).length);
  }
  const kinds: Record<string, number> = {};
  for (const r of github.requests) {
    if ((r.method !== "POST" && r.method !== "PATCH") || !r.path.includes("/check-runs")) continue;
    const k = `${r.method === "POST" ? "create" : "update"} ${(r.body as Any)?.status ?? "?"}`;
    kinds[k] = (kinds[k] ?? 0) + 1;
  }
  console.log(
    `${installations} installation(s) × ${jobs} jobs: writes ${JSON.stringify(kinds)}; final update after job end p50 ${pct(lateness, 50)} ms, p95 ${pct(lateness, 95)} ms, max ${Math.max(...lateness)} ms; ` +
      `most writes by one installation in a 60 s window: ${maxPerMinute} (limit 80)`,
  );
  await github.close();
}

const args = process.argv.slice(2).map(Number);
const pairs = args.length >= 2 ? args : [1, 30, 1, 100, 2, 20];
console.log(`reporting latency — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB`);
for (let i = 0; i + 1 < pairs.length; i += 2) await bench(pairs[i]!, pairs[i + 1]!);
process.exit(0);
