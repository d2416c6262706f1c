import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { JobObservation, RecoveredJob } from "../../src/executors/executor.js";
import type { KubernetesExecutor } from "../../src/executors/kubernetes/kubernetes-executor.js";
import { harness, makeSpec, until, type Harness } from "./harness.js";

let h: Harness;

beforeEach(async () => {
  h = await harness();
});

afterEach(async () => {
  await h.close();
});

/**
 * What the scheduler does with an executor, reduced to the reporting rule: a final result is
 * reported when it is first seen (recover() or the stream), then marked reported. `reports`
 * counts final reports per run over every "process" that uses it.
 */
class MiniScheduler {
  readonly reports = new Map<string, number>();
  private readonly marks: Array<Promise<void>> = [];

  attach(executor: KubernetesExecutor, recovered: RecoveredJob[] = []): void {
    for (const r of recovered) {
      if (r.observation.phase === "finished" && !r.reported) this.report(executor, r.observation);
    }
    executor.subscribe((o) => {
      if (o.phase === "finished") this.report(executor, o);
    });
  }

  /** A process that crashes before reporting: sees results, reports nothing. */
  private report(executor: KubernetesExecutor, o: JobObservation): void {
    this.reports.set(o.runId, (this.reports.get(o.runId) ?? 0) + 1);
    this.marks.push(executor.markReported(o.runId));
  }

  async settled(): Promise<void> {
    await Promise.all(this.marks);
  }
}

describe("restart recovery: the cluster holds the state", () => {
  it("a new instance rebuilds every RunSpec, reports unreported results once, follows running jobs", async () => {
    const first = await h.newExecutor();
    const running = makeSpec({ job: "running" });
    const pending = makeSpec({ job: "pending" });
    const doneUnreported = makeSpec({ job: "done-unreported" });
    const doneReported = makeSpec({ job: "done-reported" });
    const finishesWhileDown = makeSpec({ job: "finishes-while-down" });
    for (const s of [running, pending, doneUnreported, doneReported, finishesWhileDown]) await first.executor.start(s);
    const k = h.standIn.kubelet;
    k.run(running.id, { log: "still going\n" });
    k.run(finishesWhileDown.id);
    k.succeed(doneUnreported.id, "unreported log\n");
    k.fail(doneReported.id, 1, "reported log\n");
    await first.rec.waitPhase(doneUnreported.id, "finished");
    await first.rec.waitPhase(doneReported.id, "finished");
    await first.rec.waitPhase(running.id, "running");
    // The first process reported one result, then "crashed" before reporting the other.
    await first.executor.markReported(doneReported.id);
    await first.executor.close();

    k.succeed(finishesWhileDown.id, "finished while the app was down\n");

    // The second process runs elsewhere: its LogStore starts empty.
    const second = await h.newExecutor({}, { logStore: h.freshLogStore(), subscribe: false });
    const seen: JobObservation[] = [];
    second.executor.subscribe((o) => seen.push(o));
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual([]); // jobs from before the restart wait for recover()

    const recovered = await second.executor.recover();
    const byId = new Map(recovered.map((r) => [r.spec.id, r]));
    expect([...byId.keys()].sort()).toEqual([running.id, pending.id, doneUnreported.id, doneReported.id, finishesWhileDown.id].sort());
    expect(byId.get(running.id)).toEqual({ spec: running, observation: { runId: running.id, phase: "running", startedAt: expect.any(Date) } });
    expect(byId.get(pending.id)).toEqual({ spec: pending, observation: { runId: pending.id, phase: "pending" } });
    expect(byId.get(doneUnreported.id)).toMatchObject({ spec: doneUnreported, observation: { phase: "finished", outcome: "succeeded", exitCode: 0 } });
    expect(byId.get(doneUnreported.id)!.reported).toBeUndefined();
    expect(byId.get(doneReported.id)).toMatchObject({ spec: doneReported, reported: true, observation: { phase: "finished", outcome: "failed", exitCode: 1 } });
    expect(byId.get(finishesWhileDown.id)).toMatchObject({ observation: { phase: "finished", outcome: "succeeded" } });
    // Logs of unreported results are in this process's LogStore by the time recover() returns.
    expect((await second.logStore.tail(doneUnreported.id, 1000)).text).toBe("unreported log\n");
    expect((await second.logStore.tail(finishesWhileDown.id, 1000)).text).toBe("finished while the app was down\n");
    expect(await second.logStore.size(doneReported.id)).toBe(0); // reported: not read again

    const sched = new MiniScheduler();
    sched.attach(second.executor, recovered);
    // Observations continue for the jobs that were running.
    k.run(pending.id);
    k.succeed(running.id, "still going\ndone\n");
    k.succeed(pending.id, "ok\n");
    await until(() => seen.filter((o) => o.phase === "finished").length >= 2, 5000, "two finished");
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.filter((o) => o.phase === "finished").map((o) => o.runId).sort()).toEqual([running.id, pending.id].sort());
    expect(seen.find((o) => o.runId === pending.id && o.phase === "running")).toBeDefined();
    await sched.settled();
    expect(Object.fromEntries(sched.reports)).toEqual({ [doneUnreported.id]: 1, [finishesWhileDown.id]: 1, [running.id]: 1, [pending.id]: 1 });
    await second.executor.close();

    // A third start reports nothing again: every Job carries the mark.
    const third = await h.newExecutor({}, { logStore: h.freshLogStore() });
    const again = await third.executor.recover();
    expect(again).toHaveLength(5);
    expect(again.every((r) => r.reported === true && r.observation.phase === "finished")).toBe(true);
    // One log read per finished job and process that needed it: 2 by the first process, 2 by
    // recover() (empty LogStore), 2 for the jobs followed after the restart, none by the third.
    expect(h.standIn.count("get", "pods/log")).toBe(6);
  });

  it("a job restarted mid-run keeps its single `finished`: the stream delivers it, recover() saw it running", async () => {
    const first = await h.newExecutor();
    const spec = makeSpec({ job: "long" });
    await first.executor.start(spec);
    h.standIn.kubelet.run(spec.id);
    await first.rec.waitPhase(spec.id, "running");
    await first.executor.close();
    const second = await h.newExecutor();
    const recovered = await second.executor.recover();
    expect(recovered.map((r) => r.observation.phase)).toEqual(["running"]);
    h.standIn.kubelet.succeed(spec.id, "bye\n");
    await second.rec.waitPhase(spec.id, "finished");
    await new Promise((r) => setTimeout(r, 300));
    expect(second.rec.of(spec.id).map((o) => o.phase)).toEqual(["finished"]);
  });

  it("markReported() patches the annotation (merge patch) and ignores a Job that is gone", async () => {
    const { executor, rec } = await h.newExecutor();
    const spec = makeSpec();
    await executor.start(spec);
    h.standIn.kubelet.succeed(spec.id);
    await rec.waitPhase(spec.id, "finished");
    await executor.markReported(spec.id);
    expect(h.standIn.get("jobs", spec.id)!.metadata.annotations["yaci.dev/reported"]).toBe("true");
    expect(h.standIn.get("jobs", spec.id)!.metadata.annotations["yaci.dev/spec"]).toBe(JSON.stringify(spec));
    h.standIn.deleteJob(spec.id);
    await expect(executor.markReported(spec.id)).resolves.toBeUndefined();
  });

  it("two instances start the same spec: one Job, one Secret, the second adopts it (409)", async () => {
    const a = await h.newExecutor();
    const b = await h.newExecutor();
    const spec = makeSpec({ job: "twice" });
    await Promise.all([a.executor.start(spec), b.executor.start(spec)]);
    expect(h.standIn.list("jobs")).toHaveLength(1);
    expect(h.standIn.list("secrets")).toHaveLength(1);
    expect(h.standIn.count("create", "jobs")).toBe(2);
    h.standIn.kubelet.succeed(spec.id, "once\n");
    await a.rec.waitPhase(spec.id, "finished");
    await b.rec.waitPhase(spec.id, "finished");
    // A redelivered event in the same process: adopted again, nothing new.
    await a.executor.start(spec);
    await new Promise((r) => setTimeout(r, 300));
    expect(a.rec.finished(spec.id)).toHaveLength(1);
    expect(b.rec.finished(spec.id)).toHaveLength(1);
    expect(h.standIn.list("jobs")).toHaveLength(1);
    expect(h.standIn.list("pods")).toHaveLength(1);
  });
});
