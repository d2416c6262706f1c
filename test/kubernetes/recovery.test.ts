import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { JobObservation, RecoveredJob } from "../../src/executors/executor.js";
import type { KubernetesExecutor } from "../../src/executors/kubernetes/kubernetes-executor.js";
import { silentLogger } from "../../src/logger.js";
import type { LogStore } from "../../src/logs/log-store.js";
import { Reporter } from "../../src/runs/reporter.js";
import { RunStore } from "../../src/runs/run-store.js";
import { Scheduler } from "../../src/runs/scheduler.js";
import { MemoryChecks } from "../fakes/memory-checks.js";
import { harness, logReads, makeSpec, quiesce, until, type Harness } from "./harness.js";

let h: Harness;

beforeEach(async () => {
  h = await harness();
});

afterEach(async () => {
  await h.close();
});

/**
 * One YACI process behind a Kubernetes executor: the real scheduler and reporter (src/runs), its
 * own run store (a new replica's disk starts empty), and GitHub's check runs (`checks`, shared by
 * every process, as GitHub is). `finals` counts the completed check-run writes per run.
 */
function yaciProcess(executor: KubernetesExecutor, logs: LogStore, checks: MemoryChecks) {
  const dir = mkdtempSync(join(tmpdir(), "yaci-k8s-store-"));
  const store = new RunStore(dir);
  const reporter = new Reporter({ store, logs, checks, executorKind: executor.kind, log: silentLogger, retryDelaysMs: [], onFinalReported: (r) => executor.markReported(r.spec.id) });
  const scheduler = new Scheduler({ store, executor, reporter, log: silentLogger });
  return { store, reporter, scheduler, dir };
}

/** Runs `fn` (which calls `executor.recover()` once) and returns what that recover() returned. */
async function recording(executor: KubernetesExecutor, fn: () => Promise<void>): Promise<RecoveredJob[]> {
  const out: RecoveredJob[] = [];
  const recover = executor.recover.bind(executor);
  executor.recover = async () => {
    const r = await recover();
    out.push(...r);
    return r;
  };
  await fn();
  return out;
}

function finals(checks: MemoryChecks): Record<string, number> {
  const out: Record<string, number> = {};
  for (const w of checks.writes) if (w.u.status === "completed" && w.u.externalId) out[w.u.externalId] = (out[w.u.externalId] ?? 0) + 1;
  return out;
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
    await until(() => second.executor.ready(), 5000, "the second process to list the cluster");
    expect(seen).toEqual([]); // jobs from before the restart wait for recover()

    // GitHub's check runs, shared by the processes; the second one runs the real scheduler.
    const github = new MemoryChecks();
    const p2 = yaciProcess(second.executor, second.logStore, github);
    const recovered = await recording(second.executor, () => p2.scheduler.recover());
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

    // Observations continue for the jobs that were running.
    k.run(pending.id);
    k.succeed(running.id, "still going\ndone\n");
    k.succeed(pending.id, "ok\n");
    await until(() => seen.filter((o) => o.phase === "finished").length >= 2, 5000, "two finished");
    await p2.reporter.idle();
    await quiesce(h, second.executor); // every later event handled: nothing more can come
    await p2.reporter.idle();
    expect(seen.filter((o) => o.phase === "finished" && !o.runId.includes("sentinel-")).map((o) => o.runId).sort()).toEqual([running.id, pending.id].sort());
    expect(seen.find((o) => o.runId === pending.id && o.phase === "running")).toBeDefined();
    // The real scheduler and reporter wrote each result once; the one reported before the restart, never.
    expect(finals(github)).toEqual({ [doneUnreported.id]: 1, [finishesWhileDown.id]: 1, [running.id]: 1, [pending.id]: 1 });

    // A third start reports nothing again: every Job carries the mark.
    const third = await h.newExecutor({}, { logStore: h.freshLogStore() });
    const p3 = yaciProcess(third.executor, third.logStore, github);
    const again = (await recording(third.executor, () => p3.scheduler.recover())).filter((r) => !r.spec.id.includes("sentinel-"));
    expect(again).toHaveLength(5);
    expect(again.every((r) => r.reported === true && r.observation.phase === "finished")).toBe(true);
    await p3.reporter.idle();
    expect(finals(github)).toEqual({ [doneUnreported.id]: 1, [finishesWhileDown.id]: 1, [running.id]: 1, [pending.id]: 1 });
    // One log read per finished job and process that needed it: 2 by the first process, 2 by
    // recover() (empty LogStore), 2 for the jobs followed after the restart, none by the third.
    expect(logReads(h)).toBe(6);
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
    await quiesce(h, second.executor, second.rec);
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
    await quiesce(h, a.executor, a.rec);
    await quiesce(h, b.executor, b.rec);
    expect(a.rec.finished(spec.id)).toHaveLength(1);
    expect(b.rec.finished(spec.id)).toHaveLength(1);
    expect(h.standIn.list("jobs").filter((j) => !j.metadata.name.includes("sentinel-"))).toHaveLength(1);
    expect(h.standIn.list("pods").filter((p) => !p.metadata.name.includes("sentinel-"))).toHaveLength(1);
  });
});
