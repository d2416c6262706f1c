import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Probot, ProbotOctokit } from "probot";
import { createApp } from "../../src/app.js";
import type { Deps } from "../../src/deps.js";
import { createMetrics } from "../../src/observability/metrics.js";
import { FakeExecutor } from "../fakes/fake-executor.js";
import { waitFor } from "../support/github-stand-in.js";
import { TEST_APP_ID, TEST_PRIVATE_KEY } from "../support/test-app-keys.js";
import { API_TOKEN, startHarness, type Harness } from "./harness.js";
import { parsePrometheusText, sampleValue, type Family } from "./prom-text.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** The whole app (Probot + createApp) with a scripted executor, its HTTP surface on loopback. */
async function startApp(executor: FakeExecutor) {
  const dataDir = mkdtempSync(join(tmpdir(), "yaci-metrics-"));
  const probot = new Probot({ appId: TEST_APP_ID, privateKey: TEST_PRIVATE_KEY, secret: "s", logLevel: "error", Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }) });
  let deps!: Deps;
  const handlers: ((req: IncomingMessage, res: ServerResponse) => boolean | void | Promise<boolean | void>)[] = [];
  await probot.load(createApp({ YACI_DATA_DIR: dataDir, YACI_API_TOKEN: API_TOKEN, YACI_CATCHUP_INTERVAL: "off" }, { executor }, (d) => (deps = d)), {
    cwd: process.cwd(),
    addHandler: (fn) => void handlers.push(fn),
  });
  const server = createServer(async (req, res) => {
    for (const fn of handlers) if (await fn(req, res)) return;
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    deps,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await deps.reporter.idle();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function scrape(base: string): Promise<Map<string, Family>> {
  const res = await fetch(`${base}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
}

describe("GET /metrics", () => {
  it("is Prometheus text with every YACI metric and the default process metrics", async () => {
    h = await startHarness();
    const m = await scrape(h.url);
    const types = Object.fromEntries([...m.values()].filter((f) => f.name.startsWith("yaci_")).map((f) => [f.name, f.type]));
    expect(types).toMatchObject({
      yaci_webhook_deliveries_total: "counter",
      yaci_runs_started_total: "counter",
      yaci_runs_finished_total: "counter",
      yaci_run_duration_seconds: "histogram",
      yaci_queue_depth: "gauge",
      yaci_github_rate_limit_remaining: "gauge",
      yaci_executor_errors_total: "counter",
      yaci_http_requests_total: "counter",
      yaci_process_cpu_user_seconds_total: "counter",
      yaci_process_resident_memory_bytes: "gauge",
      yaci_nodejs_eventloop_lag_seconds: "gauge",
    });
    for (const f of m.values()) expect(f.help, f.name).not.toBe("");
    expect(sampleValue(m, "yaci_queue_depth")).toBe(0);
  });

  it("the run counters move as the app's own scheduler runs jobs (POST /run through the real app)", async () => {
    const fake = new FakeExecutor();
    const app = await startApp(fake);
    try {
      const before = await scrape(app.url);
      expect(sampleValue(before, "yaci_runs_started_total", { executor: "fake" })).toBeUndefined();

      // Two runs through the app's API: the real scheduler starts them on the executor.
      const ids: string[] = [];
      for (const command of ["echo ok", "exit 2"]) {
        const res = await fetch(`${app.url}/run`, { method: "POST", headers: { authorization: `Bearer ${API_TOKEN}` }, body: command });
        expect(res.status).toBe(200);
        ids.push(((await res.json()) as { name: string }).name);
      }
      await waitFor(() => fake.started.length === 2, { message: "both runs started" });
      expect(fake.started.map((s) => s.id)).toEqual(ids);
      const t0 = Date.parse("2025-03-01T10:00:00Z");
      fake.run(ids[0]!, new Date(t0));
      fake.run(ids[1]!, new Date(t0));
      fake.finish(ids[0]!, "succeeded", 0, new Date(t0 + 4_000));
      fake.finish(ids[1]!, "failed", 2, new Date(t0 + 700_000));
      await waitFor(() => ids.every((id) => app.deps.store.get(id)?.phase === "completed"), { message: "both runs completed" });

      const after = await scrape(app.url);
      expect(sampleValue(after, "yaci_runs_started_total", { executor: "fake" })).toBe(2);
      expect(sampleValue(after, "yaci_runs_finished_total", { conclusion: "success" })).toBe(1);
      expect(sampleValue(after, "yaci_runs_finished_total", { conclusion: "failure" })).toBe(1);
      expect(sampleValue(after, "yaci_run_duration_seconds_sum", { conclusion: "success" })).toBe(4);
      expect(sampleValue(after, "yaci_run_duration_seconds_bucket", { conclusion: "failure", le: "600" })).toBe(0);
      expect(sampleValue(after, "yaci_run_duration_seconds_bucket", { conclusion: "failure", le: "1200" })).toBe(1);
      expect(sampleValue(after, "yaci_queue_depth")).toBe(0);
      expect(sampleValue(after, "yaci_http_requests_total", { route: "/run", code: "200" })).toBe(2);
    } finally {
      await app.close();
    }
  });

  it("every other metric is exposed with its labels (the metrics module's text)", async () => {
    h = await startHarness();
    const metrics = h.deps.metrics;
    metrics.webhook("push", "accepted");
    metrics.webhook("push", "accepted");
    metrics.webhook("pull_request.opened", "duplicate");
    metrics.setQueueDepth(3);
    metrics.setRateLimitRemaining(42, 4999);
    metrics.setRateLimitRemaining(42, 4870);
    metrics.executorError("start");
    metrics.runFinished("timed_out", 900);

    const after = await scrape(h.url);
    expect(sampleValue(after, "yaci_runs_finished_total", { conclusion: "timed_out" })).toBe(1);
    expect(sampleValue(after, "yaci_run_duration_seconds_count", { conclusion: "timed_out" })).toBe(1);
    expect(sampleValue(after, "yaci_run_duration_seconds_sum", { conclusion: "timed_out" })).toBe(900);
    expect(sampleValue(after, "yaci_run_duration_seconds_bucket", { conclusion: "timed_out", le: "600" })).toBe(0);
    expect(sampleValue(after, "yaci_run_duration_seconds_bucket", { conclusion: "timed_out", le: "1200" })).toBe(1);
    expect(sampleValue(after, "yaci_run_duration_seconds_bucket", { conclusion: "timed_out", le: "+Inf" })).toBe(1);
    expect(sampleValue(after, "yaci_webhook_deliveries_total", { event: "push", outcome: "accepted" })).toBe(2);
    expect(sampleValue(after, "yaci_webhook_deliveries_total", { event: "pull_request.opened", outcome: "duplicate" })).toBe(1);
    expect(sampleValue(after, "yaci_queue_depth")).toBe(3);
    expect(sampleValue(after, "yaci_github_rate_limit_remaining", { installation_id: "42" })).toBe(4870);
    expect(sampleValue(after, "yaci_executor_errors_total", { kind: "start" })).toBe(1);
  });

  it("each instance has its own registry", async () => {
    const a = createMetrics({ defaultMetrics: false });
    const b = createMetrics({ defaultMetrics: false });
    a.runStarted("kubernetes");
    expect(sampleValue(parsePrometheusText(await a.text()), "yaci_runs_started_total", { executor: "kubernetes" })).toBe(1);
    expect(sampleValue(parsePrometheusText(await b.text()), "yaci_runs_started_total", { executor: "kubernetes" })).toBeUndefined();
  });

  it("the parser refuses what is not Prometheus text", () => {
    expect(() => parsePrometheusText("<html>oops</html>")).toThrow(/not Prometheus text/);
    expect(() => parsePrometheusText("undeclared_total 1")).toThrow(/without a declared family/);
    expect(() => parsePrometheusText('# TYPE x counter\nx{a="1" 2')).toThrow();
  });
});

describe("health", () => {
  it("/healthz answers 200 while the process serves", async () => {
    h = await startHarness();
    const res = await fetch(`${h.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("/readyz follows the executor: ready, unreachable, throwing; the reason goes to the log, not the answer", async () => {
    let state: "up" | "down" | "throw" = "up";
    h = await startHarness({
      deps: {
        ready: async () => {
          if (state === "throw") throw new Error("connect ECONNREFUSED 10.0.0.1:6443");
          return state === "up";
        },
      },
    });
    let res = await fetch(`${h.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ready" });
    state = "down";
    res = await fetch(`${h.url}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ message: "not ready" });
    state = "throw";
    res = await fetch(`${h.url}/readyz`);
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ message: "not ready" });
    expect(text).not.toMatch(/ECONNREFUSED|10\.0\.0\.1/);
    // The operator still learns why, from the app's log.
    expect(h.logLines.filter((l) => l.level === "warn").map((l) => l.message)).toEqual([
      "/readyz: not ready: the executor is not reachable",
      "/readyz: not ready: the executor is not reachable (connect ECONNREFUSED 10.0.0.1:6443)",
    ]);
  });
});

describe("what anonymous callers learn", () => {
  it("GET / names the executor but no version and no installation", async () => {
    h = await startHarness({ deps: { about: { executor: "kubernetes" } } });
    h.deps.metrics.setRateLimitRemaining(424242, 4999);
    const res = await fetch(`${h.url}/`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("<strong>kubernetes</strong> executor");
    expect(html).not.toMatch(/\d+\.\d+\.\d+/); // no version number
    expect(html).not.toContain("424242");
  });
});

describe("GET /metrics with YACI_METRICS_TOKEN", () => {
  const METRICS_TOKEN = "metrics-token-0123456789abcdef0123456789";

  it("needs the bearer token: 401 JSON without it or with a wrong one, and no installation id leaks", async () => {
    h = await startHarness({ env: { metricsToken: METRICS_TOKEN } });
    h.deps.metrics.setRateLimitRemaining(424242, 4999);
    const attempts: Record<string, string>[] = [{}, { authorization: "Bearer wrong" }, { authorization: `Bearer ${API_TOKEN}` }, { authorization: `Basic ${METRICS_TOKEN}` }];
    for (const headers of attempts) {
      const res = await fetch(`${h.url}/metrics`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      const text = await res.text();
      expect(Object.keys(JSON.parse(text) as object)).toEqual(["message"]);
      expect(text).not.toContain("424242");
      expect(text).not.toContain("yaci_");
    }
    const ok = await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    const m = parsePrometheusText(await ok.text());
    expect(sampleValue(m, "yaci_github_rate_limit_remaining", { installation_id: "424242" })).toBe(4999);
    expect(sampleValue(m, "yaci_http_requests_total", { route: "/metrics", code: "401" })).toBe(4);
  });

  it("is open without YACI_METRICS_TOKEN (as before)", async () => {
    h = await startHarness();
    await scrape(h.url);
  });
});
