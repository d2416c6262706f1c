/**
 * The Kubernetes executor at scale (issue 19): N concurrent Jobs against the API stand-in with
 * simulated pods (no processes; the API traffic and watch events are those of real pods, and the
 * objects carry managedFields and server defaults). For each N, in a fresh child process (run with
 * --expose-gc; the stand-in stays in this process, as an API server would be elsewhere):
 *   - RSS and heap growth from "executor ready, nothing running" to "N jobs running" (after gc);
 *   - Kubernetes requests per job, by verb and resource, and the number of watches;
 *   - completion latency: the stand-in sends the Job's `Complete` event → the executor emits
 *     `finished` (includes the loopback transfer and the client's parsing: an upper bound of the
 *     executor's own part), p50/p95/max, with the Jobs ending at BENCH_END_RATE a second
 *     (default 200; 0 = all at once).
 * Usage: node --import tsx bench/kubernetes-scale.ts [N=100] [N2=500] [N3=1000] [--heap]
 *   (--heap: a heap summary by constructor at 0 and N running jobs, in the child)
 */
import { fork } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { KubeConfig } from "@kubernetes/client-node";
import { runId } from "../src/core/run-id.js";
import type { RunSpec } from "../src/core/run.js";
import type { JobObservation } from "../src/executors/executor.js";
import { createKubernetesExecutor } from "../src/executors/kubernetes/kubernetes-executor.js";
import { LogStore } from "../src/logs/log-store.js";
import { KubeStandIn } from "../test/support/kube-stand-in.js";
import { heapGrowth, heapSummary } from "./heap-summary.js";

type Mem = { rss: number; heapUsed: number; heapTotal: number; external: number };
type FromChild =
  | { type: "running"; ids: string[]; baseline: Mem; running: Mem; startMs: number; heap?: Array<[string, number, number]> }
  | { type: "done"; emitted: Record<string, number>; finished: Mem; peakRss: number };
type ToChild = { type: "config"; yaml: string; namespace: string; n: number; heap: boolean } | { type: "end" };

const MB = 2 ** 20;
const wall = () => performance.timeOrigin + performance.now();
const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");

function spec(i: number): RunSpec {
  const key = { owner: "bench", repo: "repo", sha: "0123456789abcdef0123456789abcdef01234567", job: `job-${i}` };
  return {
    id: runId(key, 1),
    key,
    attempt: 1,
    event: "push",
    installationId: 1,
    ref: "refs/heads/main",
    image: "alpine:3.20",
    run: "npm ci\nnpm test",
    timeoutMs: 600_000,
    env: { NODE_ENV: "test" },
    checkout: true,
    acceptedAt: new Date().toISOString(),
  } as RunSpec;
}

async function pool<T>(items: T[], width: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

function measure(): Mem {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run the child with --expose-gc");
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external };
}

/** The child: one executor, N jobs; reports its memory and when each `finished` was emitted. */
async function child(): Promise<void> {
  const send = (m: FromChild) => process.send!(m);
  const cfg = await new Promise<Extract<ToChild, { type: "config" }>>((resolve) => process.once("message", (m: ToChild) => m.type === "config" && resolve(m)));
  const dir = mkdtempSync(join(tmpdir(), "yaci-bench-scale-"));
  const kc = new KubeConfig();
  kc.loadFromString(cfg.yaml);
  const executor = await createKubernetesExecutor({
    env: {},
    logStore: new LogStore(dir),
    checkoutToken: async () => "ghs_benchbenchbenchbenchbenchbenchbench00",
    githubApiUrl: "https://api.github.com",
    kubeConfig: { kc, namespace: cfg.namespace },
  });
  const running = new Set<string>();
  const emitted: Record<string, number> = {};
  let wake = () => {};
  executor.subscribe((o: JobObservation) => {
    if (o.phase === "running") running.add(o.runId);
    if (o.phase === "finished") emitted[o.runId] = wall();
    wake();
  });
  const until = (cond: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => (cond() ? resolve() : undefined);
      wake = check;
      check();
    });
  await executor.recover(); // the first list of Jobs and Pods is in: the watches run
  const specs = Array.from({ length: cfg.n }, (_, i) => spec(i));
  const heap0 = cfg.heap ? heapSummary(400) : undefined;
  const baseline = measure();
  const t0 = performance.now();
  await pool(specs, 50, (s) => executor.start(s));
  await until(() => running.size === cfg.n);
  const startMs = performance.now() - t0;
  const heap = heap0 ? heapGrowth(heap0, heapSummary(400), 12) : undefined;
  send({ type: "running", ids: specs.map((s) => s.id), baseline, running: measure(), startMs, ...(heap ? { heap } : {}) });
  await until(() => Object.keys(emitted).length === cfg.n);
  await pool(specs, 50, (s) => executor.markReported(s.id));
  const finished = measure();
  // The most RSS the process ever had (Linux: VmHWM), e.g. while 1,000 Jobs were being created.
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
  send({ type: "done", emitted, finished, peakRss: Number(hwm ?? 0) * 1024 });
  await new Promise<void>((resolve) => process.once("message", () => resolve()));
  await executor.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

function pct(xs: number[], p: number): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

/** One size: a fresh stand-in here, a fresh executor in a child process. */
async function size(n: number, heap: boolean, endRate: number): Promise<void> {
  const standIn = await KubeStandIn.start({ realistic: true, simulatePods: { log: (job) => `hello from ${job}\n`.repeat(20) } });
  const proc = fork(fileURLToPath(import.meta.url), ["--child"], { execArgv: ["--expose-gc", "--import", "tsx", ...(process.env.BENCH_CHILD_ARGS?.split(" ").filter(Boolean) ?? [])], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const sentAt: Record<string, number> = {};
  const loadBefore = load();
  const result = await new Promise<{ running: Extract<FromChild, { type: "running" }>; done: Extract<FromChild, { type: "done" }> }>((resolve, reject) => {
    let running: Extract<FromChild, { type: "running" }>;
    proc.on("exit", (code) => reject(new Error(`the child exited (${code})`)));
    proc.on("message", (m: FromChild) => {
      if (m.type === "running") {
        running = m;
        // The Jobs end: at endRate a second, or all at once.
        const ids = m.ids.slice();
        const end = (k: number) => {
          for (const id of ids.splice(0, k)) {
            standIn.kubelet.succeed(id, `hello from ${id}\n`.repeat(20) + "ok\n");
            sentAt[id] = wall();
          }
        };
        if (endRate <= 0) end(ids.length);
        else {
          const timer = setInterval(() => {
            end(Math.max(1, Math.round(endRate / 100)));
            if (!ids.length) clearInterval(timer);
          }, 10);
        }
      } else resolve({ running, done: m });
    });
    proc.send({ type: "config", yaml: standIn.kubeconfigYaml(), namespace: standIn.namespace, n, heap } satisfies ToChild);
  });
  proc.removeAllListeners("exit");
  proc.send({ type: "end" } satisfies ToChild);
  await new Promise((r) => proc.once("exit", r));
  const counts = standIn.countsByKey();
  await standIn.close();

  const { baseline, running: mem, startMs } = result.running;
  const lat = Object.entries(result.done.emitted).map(([id, t]) => t - sentAt[id]!);
  const perJob = ["create jobs", "create secrets", "patch jobs", "get pods/log"].reduce((a, k) => a + (counts[k] ?? 0), 0) / n;
  console.log(`\nN = ${n} concurrent jobs (load before ${loadBefore}, after ${load()})`);
  console.log(
    `  memory (after gc), ready → ${n} running: RSS +${((mem.rss - baseline.rss) / MB).toFixed(1)} MB (${((mem.rss - baseline.rss) / n / 1024).toFixed(1)} KB/job; ` +
      `${(baseline.rss / MB).toFixed(0)} → ${(mem.rss / MB).toFixed(0)} MB), heap +${((mem.heapUsed - baseline.heapUsed) / MB).toFixed(1)} MB ` +
      `(${((mem.heapUsed - baseline.heapUsed) / n / 1024).toFixed(1)} KB/job; V8 heap reserved +${((mem.heapTotal - baseline.heapTotal) / MB).toFixed(1)} MB), external +${((mem.external - baseline.external) / MB).toFixed(1)} MB; ` +
      `peak RSS ${(result.done.peakRss / MB).toFixed(0)} MB; after all finished and were reported: RSS ${(result.done.finished.rss / MB).toFixed(0)} MB, heap ${(result.done.finished.heapUsed / MB).toFixed(1)} MB`,
  );
  console.log(`  all ${n} started and seen running in ${(startMs / 1000).toFixed(1)} s`);
  const keys = Object.keys(counts).sort();
  console.log(`  requests: ${keys.map((k) => `${k} ${counts[k]}`).join(", ")}`);
  console.log(`  per job: ${perJob.toFixed(2)} (${["create jobs", "create secrets", "patch jobs", "get pods/log"].map((k) => `${k} ${((counts[k] ?? 0) / n).toFixed(2)}`).join(", ")}); lists ${counts["list jobs"] ?? 0}+${counts["list pods"] ?? 0}, watches ${(counts["watch jobs"] ?? 0) + (counts["watch pods"] ?? 0)}`);
  console.log(
    `  completion latency (Complete event sent → finished emitted, ends at ${endRate > 0 ? `${endRate}/s` : "once"}): p50 ${pct(lat, 50).toFixed(0)} ms, p95 ${pct(lat, 95).toFixed(0)} ms, max ${Math.max(...lat).toFixed(0)} ms`,
  );
  if (result.running.heap) {
    console.log(`  heap growth by constructor (0 → ${n} running):`);
    for (const [name, bytes, count] of result.running.heap) console.log(`    ${name.slice(0, 40).padEnd(40)} ${(bytes / 1024).toFixed(0).padStart(8)} KB ${String(count).padStart(8)} objects`);
  }
}

if (process.argv.includes("--child")) await child();
else {
  const args = process.argv.slice(2);
  const heap = args.includes("--heap");
  const sizes = args.map(Number).filter((x) => x > 0);
  const endRate = Number(process.env.BENCH_END_RATE ?? 200);
  console.log(`kubernetes scale — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; load average ${load()}`);
  for (const n of sizes.length ? sizes : [100, 500, 1000]) await size(n, heap, endRate);
  process.exit(0);
}
