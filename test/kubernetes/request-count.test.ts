import { afterEach, beforeEach, describe, expect, it } from "vitest";
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
