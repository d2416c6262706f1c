import { afterEach, describe, expect, it } from "vitest";
import { Job } from "kubernetes-models/batch/v1/Job";
import { harness, makeSpec, until, type Harness } from "./harness.js";
import { QUEUE_ANNOTATION, KUEUE_QUEUE_LABEL } from "../../src/executors/kubernetes/admission.js";
import type { RunSpec } from "../../src/core/run.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A job of installation `inst`, accepted at `t` ms. */
function spec(inst: number, owner: string, job: string, t: number): RunSpec {
  return makeSpec({ job, installationId: inst, key: { owner, repo: "r", sha: "0123456789abcdef0123456789abcdef01234567", job }, acceptedAt: new Date(t).toISOString(), id: `${owner}-${job}` });
}

const jobOf = (name: string) => h!.standIn.objects.jobs.get(name);
const unsuspended = () => [...h!.standIn.objects.jobs.values()].filter((j) => j.spec?.suspend === false).map((j) => j.metadata.name as string);

describe("Kubernetes: the fair queue in the cluster", () => {
  it("Jobs are created suspended, at most YACI_MAX_RUNNING are admitted, a later installation goes next; a restart recovers the order", async () => {
    h = await harness();
    const queue = { limits: { maxRunning: 2 }, leaseDurationMs: 600, identity: "first" };
    const first = await h.newExecutor({}, { queue });
    const a = Array.from({ length: 6 }, (_, i) => spec(1, "acme", `a${i}`, 1000 + i));
    for (const s of a) await first.executor.start(s);
    for (const s of a) expect(jobOf(s.id)!.metadata.annotations[QUEUE_ANNOTATION]).toMatch(/waiting|admitted/);
    await until(() => unsuspended().length === 2, 10_000, "two admissions");
    expect(unsuspended().sort()).toEqual(["acme-a0", "acme-a1"]);
    const b = spec(2, "globex", "b0", 5000);
    await first.executor.start(b);
    expect(jobOf(b.id)!.spec.suspend).toBe(true);
    // One of acme's ends: globex's Job (no job running) is admitted before acme's third.
    h.standIn.kubelet.succeed("acme-a0", "ok\n");
    await until(() => unsuspended().includes(b.id), 10_000, "globex admitted");
    expect(unsuspended().filter((n) => !jobOf(n)!.status?.succeeded)).toHaveLength(2);
    expect(jobOf("acme-a2")!.spec.suspend).toBe(true);

    // A restart: a new process reads the queue from the cluster and keeps to the limit and the order.
    await first.executor.close();
    const second = await h.newExecutor({}, { queue: { ...queue, identity: "second" } });
    await second.executor.recover();
    h.standIn.kubelet.succeed("acme-a1", "ok\n");
    await until(() => !jobOf("acme-a2")!.spec.suspend, 10_000, "acme-a2 admitted after the restart");
    expect(jobOf("acme-a3")!.spec.suspend).toBe(true);
    expect(unsuspended().filter((n) => !jobOf(n)!.status?.succeeded)).toHaveLength(2);
  });

  it("two replicas: one holds the Lease and admits; when it stops, the other takes over within the Lease's duration", async () => {
    h = await harness();
    const leaseDurationMs = 600;
    const one = await h.newExecutor({}, { queue: { limits: { maxRunning: 1 }, leaseDurationMs, identity: "one" } });
    await until(() => h!.standIn.objects.leases.get("yaci-admission")?.spec?.holderIdentity === "one", 10_000, "one holds the Lease");
    const two = await h.newExecutor({}, { queue: { limits: { maxRunning: 1 }, leaseDurationMs, identity: "two" } });
    await new Promise((r) => setTimeout(r, leaseDurationMs)); // two tries, and fails, to take it
    expect(h.standIn.objects.leases.get("yaci-admission")!.spec.holderIdentity).toBe("one");
    const s1 = spec(1, "acme", "x1", 1);
    const s2 = spec(1, "acme", "x2", 2);
    await two.executor.start(s1);
    await two.executor.start(s2);
    await until(() => unsuspended().length === 1, 10_000, "one admission (by the Lease holder)");
    const patches = h.standIn.requests.filter((r) => r.verb === "patch" && r.resource === "jobs");
    expect(patches.length).toBeGreaterThan(0);
    // The first stops (it gives the Lease up; had it crashed, the Lease would lapse after 600 ms).
    const stoppedAt = Date.now();
    await one.executor.close();
    h.standIn.kubelet.succeed("acme-x1", "ok\n");
    await until(() => !jobOf("acme-x2")!.spec.suspend, 10_000, "the second replica admits");
    expect(h.standIn.objects.leases.get("yaci-admission")!.spec.holderIdentity).toBe("two");
    expect(Date.now() - stoppedAt).toBeLessThan(leaseDurationMs * 3);
  });

  it("with YACI_KUEUE_QUEUE: the Job carries Kueue's label, is created suspended (a valid Job), and YACI never unsuspends it", async () => {
    h = await harness();
    const { executor } = await h.newExecutor({}, { queue: { limits: {}, kueueQueue: "team-a" } });
    const s = spec(1, "acme", "k", 1);
    await executor.start(s);
    const job = jobOf(s.id)!;
    expect(job.metadata.labels[KUEUE_QUEUE_LABEL]).toBe("team-a");
    expect(job.spec.suspend).toBe(true);
    expect(() => new Job(structuredClone(job)).validate()).not.toThrow();
    await new Promise((r) => setTimeout(r, 300));
    expect(jobOf(s.id)!.spec.suspend).toBe(true);
    expect(h.standIn.requests.filter((r) => r.verb === "patch" && r.resource === "jobs")).toEqual([]);
    expect(h.standIn.requests.filter((r) => r.resource === "leases")).toEqual([]);
  });
});
