import { afterEach, describe, expect, it } from "vitest";
import { createMetrics } from "../../src/observability/metrics.js";
import { API_TOKEN, eventually, startHarness, type Harness } from "./harness.js";
import { parsePrometheusText, sampleValue, type Family } from "./prom-text.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

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

  it("counters move as runs happen", async () => {
    h = await startHarness();
    const metrics = h.deps.metrics;
    const before = await scrape(h.url);
    expect(sampleValue(before, "yaci_runs_started_total", { executor: "local" })).toBeUndefined();

    // Two real runs through POST /run: the fake scheduler calls runStarted / runFinished.
    const ids: string[] = [];
    for (const command of ["echo ok", "exit 2"]) {
      const res = await fetch(`${h.url}/run`, { method: "POST", headers: { authorization: `Bearer ${API_TOKEN}` }, body: command });
      ids.push(((await res.json()) as { name: string }).name);
    }
    await eventually(async () => (ids.every((id) => h!.runner.get(id)?.phase === "completed") ? true : undefined));
    // What the webhook handler, the poller and the GitHub client report as they work.
    metrics.webhook("push", "accepted");
    metrics.webhook("push", "accepted");
    metrics.webhook("pull_request.opened", "duplicate");
    metrics.setQueueDepth(3);
    metrics.setRateLimitRemaining(42, 4999);
    metrics.setRateLimitRemaining(42, 4870);
    metrics.executorError("start");
    metrics.runFinished("timed_out", 900);

    const after = await scrape(h.url);
    expect(sampleValue(after, "yaci_runs_started_total", { executor: "local" })).toBe(2);
    expect(sampleValue(after, "yaci_runs_finished_total", { conclusion: "success" })).toBe(1);
    expect(sampleValue(after, "yaci_runs_finished_total", { conclusion: "failure" })).toBe(1);
    expect(sampleValue(after, "yaci_runs_finished_total", { conclusion: "timed_out" })).toBe(1);
    expect(sampleValue(after, "yaci_run_duration_seconds_count", { conclusion: "success" })).toBe(1);
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
    expect(sampleValue(after, "yaci_http_requests_total", { route: "/run", code: "200" })).toBe(2);
    expect(sampleValue(after, "yaci_http_requests_total", { route: "/metrics", code: "200" })).toBe(1);
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

  it("/readyz follows the executor: ready, unreachable, throwing", async () => {
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
    expect(await res.json()).toEqual({ message: "not ready: the executor is not reachable" });
    state = "throw";
    res = await fetch(`${h.url}/readyz`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { message: string }).message).toMatch(/ECONNREFUSED/);
  });
});
