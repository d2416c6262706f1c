import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Scheduler } from "../../../src/runs/scheduler.js";
import { Reporter } from "../../../src/runs/reporter.js";
import { RunStore } from "../../../src/runs/run-store.js";
import { LogStore } from "../../../src/logs/log-store.js";
import type { Trigger } from "../../../src/core/trigger.js";
import { FakeExecutor } from "../../fakes/fake-executor.js";
import { MemoryChecks } from "../../fakes/memory-checks.js";
import { fakeSpec } from "../../fakes/records.js";

const silent = { info() {}, warn() {}, error() {} };
const trigger = (sha: string, ref = "refs/heads/main"): Trigger => ({
  event: "push",
  installationId: 1,
  owner: "o",
  repo: "r",
  sha,
  ref,
  branch: ref.replace("refs/heads/", ""),
});
const job = (name: string) => ({ name, image: "alpine", run: "true", timeoutMs: 60_000, env: {} });

function build(dir = mkdtempSync(join(tmpdir(), "yaci-sched-")), executor = new FakeExecutor()) {
  const store = new RunStore(dir);
  const checks = new MemoryChecks();
  const reporter = new Reporter({ store, logs: new LogStore(dir), checks, executorKind: "fake", log: silent, retryDelaysMs: [] });
  const scheduler = new Scheduler({ store, executor, reporter, log: silent });
  const settle = async () => {
    await new Promise((r) => setTimeout(r, 10));
    await reporter.idle();
  };
  return { dir, store, checks, reporter, scheduler, executor, settle };
}

describe("Scheduler", () => {
  it("one run per (repository, SHA, job), however many events name the commit", async () => {
    const { scheduler, executor, settle, checks } = build();
    expect(scheduler.accept(trigger("a".repeat(40)), [job("test"), job("lint")])).toHaveLength(2);
    expect(scheduler.accept({ ...trigger("a".repeat(40)), event: "pull_request" }, [job("test"), job("docs")])).toHaveLength(1);
    await settle();
    expect(executor.started.map((s) => s.key.job)).toEqual(["test", "lint", "docs"]);
    expect(checks.writes.map((w) => [w.op, w.u.name, w.u.status])).toEqual([
      ["create", "test", "queued"],
      ["create", "lint", "queued"],
      ["create", "docs", "queued"],
    ]);
  });

  it("a run another replica already created is neither started nor reported here", async () => {
    const { scheduler, executor, settle, checks, store } = build(undefined, new FakeExecutor().claims("exists"));
    const [r] = scheduler.accept(trigger("b".repeat(40)), [job("test")]);
    await settle();
    expect(executor.started).toEqual([]);
    expect(checks.writes).toEqual([]);
    expect(store.get(r!.spec.id)).toBeUndefined();
  });

  it("a run this replica created is reported and started", async () => {
    const { scheduler, executor, settle, checks } = build(undefined, new FakeExecutor().claims("created"));
    scheduler.accept(trigger("c".repeat(40)), [job("test")]);
    await settle();
    expect(executor.claimed).toHaveLength(1);
    expect(executor.started).toHaveLength(1);
    expect(checks.writes).toHaveLength(1);
  });

  it("supersede cancels unfinished runs of older commits on the same ref only", async () => {
    const { scheduler, executor, settle, store } = build();
    const [old] = scheduler.accept(trigger("1".repeat(40), "refs/heads/f"), [job("test")]);
    const [other] = scheduler.accept(trigger("2".repeat(40), "refs/heads/g"), [job("test")]);
    await settle();
    expect(scheduler.supersede(trigger("3".repeat(40), "refs/heads/f"))).toEqual([old!.spec.id]);
    await settle();
    expect(executor.cancelled).toEqual([old!.spec.id]);
    expect(store.get(old!.spec.id)).toMatchObject({ conclusion: "cancelled", cancelReason: "superseded by 3333333" });
    expect(store.get(other!.spec.id)!.phase).toBe("queued");
  });

  it("rerun makes a new attempt of a finished job, and not of a running one", async () => {
    const { scheduler, executor, settle } = build();
    const [r] = scheduler.accept(trigger("d".repeat(40)), [job("test")]);
    await settle();
    expect(scheduler.rerun(r!.spec.id)).toBeUndefined();
    executor.finish(r!.spec.id, "failed", 1);
    const next = scheduler.rerun(r!.spec.id)!;
    expect(next.spec).toMatchObject({ attempt: 2, key: r!.spec.key });
    expect(next.spec.id).not.toBe(r!.spec.id);
    expect(scheduler.latestRuns("o", "r", "d".repeat(40)).map((x) => x.spec.attempt)).toEqual([2]);
  });

  it("recover: in-progress runs the executor lost become interrupted, queued ones start again, reported ones stay quiet", async () => {
    const first = build();
    const [a, b] = first.scheduler.accept(trigger("e".repeat(40)), [job("running"), job("waiting")]);
    await first.settle();
    first.executor.run(a!.spec.id);
    await first.settle();
    first.scheduler.close();

    const again = build(first.dir);
    await again.scheduler.recover();
    await again.settle();
    expect(again.store.get(a!.spec.id)).toMatchObject({ phase: "completed", conclusion: "failure", message: "interrupted: the runner restarted" });
    expect(again.executor.started.map((s) => s.id)).toEqual([b!.spec.id]);
    expect(again.checks.writes.map((w) => [w.op, w.u.name, w.u.status])).toEqual([["update", "running", "completed"]]);

    const third = build(first.dir);
    await third.scheduler.recover();
    await third.settle();
    expect(third.checks.writes).toEqual([]);
  });

  it("recover adopts jobs the backend still runs, and takes its word that a result was reported", async () => {
    const executor = new FakeExecutor();
    const spec = fakeSpec({ id: "yaci-adopted-1" });
    const done = fakeSpec({ id: "yaci-reported-1", key: { ...fakeSpec().key, job: "done" } });
    executor.recoverable = [
      { spec, observation: { runId: spec.id, phase: "running", startedAt: new Date("2026-11-29T10:00:00Z") } },
      { spec: done, observation: { runId: done.id, phase: "finished", outcome: "succeeded", exitCode: 0, finishedAt: new Date() }, reported: true },
    ];
    const { scheduler, store, checks, settle } = build(undefined, executor);
    await scheduler.recover();
    await settle();
    expect(store.get(spec.id)).toMatchObject({ phase: "in_progress", executor: "fake" });
    expect(store.get(done.id)).toMatchObject({ phase: "completed", conclusion: "success" });
    expect(checks.writes.map((w) => [w.u.externalId, w.u.status])).toEqual([[spec.id, "in_progress"]]);
  });
});

describe("Scheduler: a queued run's position on its check run", () => {
  it("shows the first position, then rewrites it only when it halved and a minute passed, and only with budget headroom", async () => {
    const dir = mkdtempSync(join(tmpdir(), "yaci-sched-pos-"));
    const store = new RunStore(dir);
    const checks = new MemoryChecks();
    const executor = new FakeExecutor();
    const reporter = new Reporter({ store, logs: new LogStore(dir), checks, executorKind: "fake", log: silent, retryDelaysMs: [] });
    let t = Date.parse("2024-05-01T10:00:00Z");
    let headroom = true;
    const scheduler = new Scheduler({ store, executor, reporter, log: silent, now: () => new Date(t), positionHeadroom: () => headroom });
    const [r] = scheduler.accept(trigger("e".repeat(40)), [job("test")]);
    const id = r!.spec.id;
    const pos = (ahead: number) => executor.emit({ runId: id, phase: "pending", queuePosition: { ahead, aheadSameInstallation: ahead - 1 } });
    const titles = async () => {
      await new Promise((res) => setTimeout(res, 10));
      await reporter.idle();
      return checks.writes.map((w) => w.u.title);
    };
    pos(40);
    expect((await titles()).at(-1)).toBe("Waiting for a runner: 40 jobs ahead (39 from o)");
    const written = checks.writes.length;
    pos(10); // halved, but within the minute
    t += 30_000;
    pos(12);
    expect(await titles()).toHaveLength(written);
    t += 40_000; // past the minute, but no headroom in the write budget
    headroom = false;
    pos(10);
    expect(await titles()).toHaveLength(written);
    headroom = true;
    pos(30); // past the minute, moved by a quarter only
    expect(await titles()).toHaveLength(written);
    pos(20); // halved and past the minute: shown
    expect((await titles()).at(-1)).toBe("Waiting for a runner: 20 jobs ahead (19 from o)");
    executor.run(id); // started: the position goes
    expect((await titles()).at(-1)).toBe("Running");
    scheduler.close();
  });
});
