import { afterEach, describe, expect, it } from "vitest";
import { Job } from "kubernetes-models/batch/v1/Job";
import { harness, makeSpec, until, type Harness } from "./harness.js";
import { KubeConfig } from "@kubernetes/client-node";
import { Admission, QUEUE_ANNOTATION, KUEUE_QUEUE_LABEL, queueSettingsFromEnv } from "../../src/executors/kubernetes/admission.js";
import { realTimers } from "../../src/clock.js";
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

  it("a holder that cannot renew (its Lease requests fail) stops admitting once its Lease may have lapsed; the other takes over", async () => {
    h = await harness();
    const replica = (identity: string) => {
      const kc = new KubeConfig();
      kc.loadFromString(h!.standIn.kubeconfigYaml(identity)); // its own token: its requests are told apart
      const admission = Admission.create(kc, h!.standIn.namespace, { limits: { maxRunning: 1 }, leaseDurationMs: 1000, identity }, { admit: async () => {}, emit: () => {}, now: () => new Date(), timers: realTimers });
      admission.start();
      return admission;
    };
    const one = replica("one");
    await until(() => one.isLeader, 10_000, "one to hold the Lease");
    const two = replica("two");
    h.standIn.failRequests(500, { match: (r) => r.path.includes("/leases") && r.client === "one" });
    // Before, each failed renewal counted as one: "one" went on admitting next to "two" for good.
    await until(() => two.isLeader && !one.isLeader, 10_000, "two alone to hold the Lease");
    expect(h.standIn.get("leases", "yaci-admission")!.spec.holderIdentity).toBe("two");
    await one.close();
    await two.close();
  });

  it("YACI_LEASE_DURATION: whole seconds (a Lease counts in seconds), as a duration or bare seconds", () => {
    const base = { YACI_MAX_RUNNING: "2" };
    expect(queueSettingsFromEnv(base)).toEqual({ limits: { maxRunning: 2 }, leaseName: "yaci-admission" });
    expect(queueSettingsFromEnv({ ...base, YACI_LEASE_DURATION: "30s" })!.leaseDurationMs).toBe(30_000);
    expect(queueSettingsFromEnv({ ...base, YACI_LEASE_DURATION: "1m" })!.leaseDurationMs).toBe(60_000);
    expect(queueSettingsFromEnv({ ...base, YACI_LEASE_DURATION: "8" })!.leaseDurationMs).toBe(8_000);
    expect(() => queueSettingsFromEnv({ ...base, YACI_LEASE_DURATION: "1500ms" })).toThrow(/YACI_LEASE_DURATION: "1500ms" must be a whole number of seconds/);
    expect(() => queueSettingsFromEnv({ ...base, YACI_LEASE_DURATION: "soon" })).toThrow(/YACI_LEASE_DURATION/);
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
