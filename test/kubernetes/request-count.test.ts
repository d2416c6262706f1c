import { BatchV1Api, type V1Job } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ANNOTATIONS, LABEL_SELECTOR, MANAGED_BY_LABEL, MANAGED_BY_VALUE, RUN_ID_LABEL } from "../../src/executors/kubernetes/job-manifest.js";
import { ListWatch } from "../../src/executors/kubernetes/list-watch.js";
import { trimJob } from "../../src/executors/kubernetes/pod-status.js";
import { harness, makeSpec, until, type Harness } from "./harness.js";

let h: Harness;

beforeEach(async () => {
  h = await harness();
});

afterEach(async () => {
  await h.close();
});

/** Starts `n` jobs, drives each through running to success, reports and marks each. */
async function runJobs(n: number, tag: string): Promise<void> {
  const { executor, rec } = await h.newExecutor();
  const specs = Array.from({ length: n }, (_, i) => makeSpec({ job: `${tag}-${i}` }));
  for (let i = 0; i < n; i += 20) await Promise.all(specs.slice(i, i + 20).map((s) => executor.start(s)));
  for (const s of specs) h.standIn.kubelet.run(s.id, { log: `log of ${s.key.job}\n` });
  await until(() => specs.every((s) => rec.of(s.id).some((o) => o.phase === "running")), 20_000, "all running");
  for (const s of specs) h.standIn.kubelet.succeed(s.id, `log of ${s.key.job}\nok\n`);
  await until(() => specs.every((s) => rec.finished(s.id).length === 1), 20_000, "all finished");
  // What the scheduler does after the final check-run update:
  for (const s of specs) await executor.markReported(s.id);
  for (const s of specs) expect((await h.logStore.tail(s.id, 100)).text).toBe(`log of ${s.key.job}\nok\n`);
  expect(rec.all.filter((o) => o.phase === "finished")).toHaveLength(n);
}

describe("Kubernetes API requests do not grow with the number of running jobs", () => {
  it("200 jobs: one Job create, one Secret create, one start patch, one log read (and the reported mark) per job, plus a constant list/watch", async () => {
    const n = 200;
    await runJobs(n, "many");
    const counts = h.standIn.countsByKey();
    expect(counts["create jobs"]).toBe(n);
    expect(counts["create secrets"]).toBe(n); // carries ownerReferences: no patch of the Secret needed
    expect(counts["get pods/log"]).toBe(n);
    // The Job is created suspended and let start once its Secret exists; then markReported after its final report.
    expect(counts["patch jobs"]).toBe(2 * n);
    expect(h.standIn.count("list")).toBe(2); // jobs + pods, once
    expect(h.standIn.count("watch")).toBeGreaterThanOrEqual(2);
    expect(h.standIn.count("watch")).toBeLessThanOrEqual(4); // a reconnect at most, whatever n is
    expect(h.standIn.count("get", "jobs")).toBe(0);
    expect(h.standIn.count("get", "pods")).toBe(0);
    expect(h.standIn.count("delete")).toBe(0);
    expect(h.standIn.count("other")).toBe(0);
    expect(h.standIn.requests).toHaveLength(5 * n + h.standIn.count("list") + h.standIn.count("watch"));
  }, 60_000);
});

describe("at scale: objects as a real API server sends them, pods simulated", () => {
  it("200 jobs: the per-job floor (checkout: 5, without: 3), one watch per resource, one list each, no per-job GET or LIST", async () => {
    await h.close();
    h = await harness({ realistic: true, simulatePods: { log: (job) => `log of ${job}\n` } });
    const { executor, rec } = await h.newExecutor();
    const specs = Array.from({ length: 200 }, (_, i) => makeSpec({ job: `scale-${i}`, checkout: i % 2 === 0 }));
    for (let i = 0; i < specs.length; i += 25) await Promise.all(specs.slice(i, i + 25).map((s) => executor.start(s)));
    // Simulated pods start by themselves (scheduled, init container, main: one event each).
    await until(() => specs.every((s) => rec.of(s.id).some((o) => o.phase === "running")), 30_000, "all running");
    const watchesWhileRunning = h.standIn.count("watch");
    for (const s of specs) h.standIn.kubelet.succeed(s.id, `log of ${s.id}\nok\n`);
    await until(() => specs.every((s) => rec.finished(s.id).length === 1), 30_000, "all finished");
    for (const s of specs) await executor.markReported(s.id);
    expect(rec.all.filter((o) => o.phase === "finished" && o.outcome === "succeeded")).toHaveLength(200);
    const withCheckout = specs.filter((s) => s.checkout).length;
    expect(h.standIn.count("create", "jobs")).toBe(200);
    expect(h.standIn.count("create", "secrets")).toBe(withCheckout);
    expect(h.standIn.count("patch", "jobs")).toBe(200 + withCheckout); // the reported mark; the start of a Job that checks out
    expect(h.standIn.count("get", "pods/log")).toBe(200);
    expect(h.standIn.count("list")).toBe(2); // jobs + pods, once
    expect(watchesWhileRunning).toBeLessThanOrEqual(4); // jobs + pods (and a reconnect at most), whatever the number of jobs
    expect(h.standIn.count("watch")).toBe(watchesWhileRunning); // 200 jobs ending open none
    expect(h.standIn.count("get", "jobs") + h.standIn.count("get", "pods") + h.standIn.count("get", "secrets")).toBe(0);
    expect(h.standIn.count("delete") + h.standIn.count("other")).toBe(0);
    expect(h.standIn.requests).toHaveLength(5 * withCheckout + 3 * (200 - withCheckout) + 2 + h.standIn.count("watch"));
  }, 90_000);

  it("a re-list goes in pages (limit/continue), and the cache keeps trimmed objects (no managedFields)", async () => {
    await h.close();
    h = await harness({ realistic: true, autoPod: false });
    for (let i = 0; i < 120; i++) {
      const name = `paged-${i}`;
      h.standIn.put("jobs", { apiVersion: "batch/v1", kind: "Job", metadata: { name, uid: `uid-${i}`, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_ID_LABEL]: name }, annotations: { [ANNOTATIONS.spec]: "{}", "kubectl.kubernetes.io/last-applied-configuration": "x".repeat(500) } }, spec: { template: { spec: { containers: [{ name: "main", image: "alpine", resources: { limits: { memory: "1Gi", cpu: "1" } } }] } } }, status: {} }, "ADDED");
    }
    const batch = h.standIn.kubeConfig().makeApiClient(BatchV1Api);
    const listed: V1Job[][] = [];
    const lw = new ListWatch<V1Job>({
      name: "jobs",
      kc: h.standIn.kubeConfig(),
      path: `/apis/batch/v1/namespaces/${h.standIn.namespace}/jobs`,
      labelSelector: LABEL_SELECTOR,
      pageSize: 50,
      list: async (page) => {
        const l = await batch.listNamespacedJob({ namespace: h.standIn.namespace, labelSelector: LABEL_SELECTOR, limit: page.limit, _continue: page.continue });
        return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? "", continue: l.metadata?._continue };
      },
      trim: trimJob,
      onList: (items) => listed.push(items),
      onEvent: () => {},
      relistIntervalMs: 0,
    });
    lw.start();
    await lw.synced;
    await lw.stop();
    const lists = h.standIn.requests.filter((r) => r.verb === "list");
    expect(lists.map((r) => [r.query.get("limit"), r.query.get("continue")])).toEqual([["50", null], ["50", expect.any(String)], ["50", expect.any(String)]]);
    expect(listed).toHaveLength(1);
    expect(listed[0]!.map((j) => j.metadata?.name)).toEqual(Array.from({ length: 120 }, (_, i) => `paged-${i}`));
    const stored = JSON.stringify(h.standIn.get("jobs", "paged-0"));
    expect(stored).toContain("managedFields");
    const kept = listed[0]![0]!;
    expect(kept.metadata?.managedFields).toBeUndefined();
    expect(kept.metadata?.annotations).toEqual({ [ANNOTATIONS.spec]: "{}" });
    expect(kept.spec?.template.spec?.containers).toEqual([{ name: "main", image: "alpine", resources: { limits: { memory: "1Gi" } } }]);
    expect(JSON.stringify(kept).length).toBeLessThan(stored.length / 4);
  }, 30_000);
});
