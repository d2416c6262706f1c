/**
 * Kubernetes API requests of the Kubernetes executor for N jobs, against the API stand-in on
 * loopback (real HTTP, the real client): prints requests per verb and resource, per job, and
 * the wall time. Usage: node --import tsx bench/kubernetes-requests.ts [N=200] [N2 …]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { runId } from "../src/core/run-id.js";
import type { RunSpec } from "../src/core/run.js";
import type { JobObservation } from "../src/executors/executor.js";
import { createKubernetesExecutor } from "../src/executors/kubernetes/kubernetes-executor.js";
import { LogStore } from "../src/logs/log-store.js";
import { KubeStandIn } from "../test/support/kube-stand-in.js";

function spec(i: number): RunSpec {
  const key = { owner: "bench", repo: "repo", sha: "0123456789abcdef0123456789abcdef01234567", job: `job-${i}` };
  return { id: runId(key, 1), key, attempt: 1, event: "push", installationId: 1, ref: "refs/heads/main", image: "alpine:3.20", run: "true", timeoutMs: 600_000, env: {}, checkout: true };
}

async function until(cond: () => boolean, what: string, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function bench(n: number): Promise<void> {
  const standIn = await KubeStandIn.start();
  const dir = mkdtempSync(join(tmpdir(), "yaci-bench-"));
  const executor = await createKubernetesExecutor({
    env: {},
    logStore: new LogStore(dir),
    checkoutToken: async () => "ghs_benchbenchbenchbenchbenchbenchbench00",
    githubApiUrl: "https://api.github.com",
    kubeConfig: { kc: standIn.kubeConfig(), namespace: standIn.namespace },
  });
  const finished = new Set<string>();
  const running = new Set<string>();
  executor.subscribe((o: JobObservation) => {
    if (o.phase === "finished") finished.add(o.runId);
    if (o.phase === "running") running.add(o.runId);
  });
  const specs = Array.from({ length: n }, (_, i) => spec(i));
  const t0 = performance.now();
  for (let i = 0; i < n; i += 20) await Promise.all(specs.slice(i, i + 20).map((s) => executor.start(s)));
  const tStarted = performance.now();
  for (const s of specs) standIn.kubelet.run(s.id, { log: `hello from ${s.key.job}\n` });
  await until(() => running.size === n, "running");
  for (const s of specs) standIn.kubelet.succeed(s.id, `hello from ${s.key.job}\nok\n`);
  await until(() => finished.size === n, "finished");
  const tFinished = performance.now();
  for (const s of specs) await executor.markReported(s.id);
  const tMarked = performance.now();
  await executor.close();
  await standIn.close();
  rmSync(dir, { recursive: true, force: true });

  const counts = standIn.countsByKey();
  const perJob = ["create jobs", "create secrets", "get pods/log", "patch jobs"].reduce((a, k) => a + (counts[k] ?? 0), 0);
  const constant = standIn.requests.length - perJob;
  console.log(`\nN = ${n} jobs`);
  for (const [k, v] of Object.entries(counts).sort()) console.log(`  ${k.padEnd(16)} ${String(v).padStart(6)}   ${(v / n).toFixed(2)} per job`);
  console.log(`  total            ${String(standIn.requests.length).padStart(6)}   (${perJob} per-job requests = ${(perJob / n).toFixed(2)} per job, ${constant} list/watch whatever N is)`);
  console.log(
    `  wall time: start ${(tStarted - t0).toFixed(0)} ms, start→all finished ${(tFinished - tStarted).toFixed(0)} ms, markReported ${(tMarked - tFinished).toFixed(0)} ms`,
  );
}

const ns = process.argv.slice(2).map(Number).filter((x) => x > 0);
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
for (const n of ns.length ? ns : [20, 200]) await bench(n);
