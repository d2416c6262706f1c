import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Scheduler } from "../../../src/runs/scheduler.js";
import { Reporter } from "../../../src/runs/reporter.js";
import { RunStore } from "../../../src/runs/run-store.js";
import { LogStore } from "../../../src/logs/log-store.js";
import type { JobConfig } from "../../../src/config/yaci-config.js";
import type { Trigger } from "../../../src/core/trigger.js";
import { FakeExecutor } from "../../fakes/fake-executor.js";
import { MemoryChecks } from "../../fakes/memory-checks.js";

const silent = { info() {}, warn() {}, error() {} };
const SHA = "a".repeat(40);
const trigger = (over: Partial<Trigger> = {}): Trigger => ({ event: "push", installationId: 1, owner: "o", repo: "r", sha: SHA, ref: "refs/heads/main", branch: "main", ...over });
const job = (name: string, needs: string[] = [], extra: Partial<JobConfig> = {}): JobConfig => ({ name, image: "alpine", run: "true", timeoutMs: 60_000, env: {}, ...(needs.length ? { needs } : {}), ...extra });
/** build → test (20), test (22) → deploy */
const PIPELINE = [job("build"), job("test (20)", ["build"]), job("test (22)", ["build"]), job("deploy", ["test (20)", "test (22)"])];

function build(dir = mkdtempSync(join(tmpdir(), "yaci-pipe-")), executor = new FakeExecutor()) {
  const store = new RunStore(dir);
  const checks = new MemoryChecks();
  const reporter = new Reporter({ store, logs: new LogStore(dir), checks, executorKind: "fake", log: silent, retryDelaysMs: [] });
  const scheduler = new Scheduler({ store, executor, reporter, log: silent });
  const settle = async () => {
    await Promise.resolve();
    await reporter.idle();
  };
  const latest = (name: string) => scheduler.latestRuns("o", "r", SHA).find((r) => r.spec.key.job === name)!;
  const started = () => executor.started.map((s) => s.key.job);
  /** The last state GitHub was told of each check run, by name. */
  const shown = () => Object.fromEntries(checks.writes.map((w) => [w.u.name, [w.u.status, w.u.conclusion, w.u.title].filter(Boolean).join(" / ")]));
  return { dir, store, checks, reporter, scheduler, executor, settle, latest, started, shown };
}

describe("needs: the scheduler holds dependents until what they need succeeded", () => {
  it("every job's check run exists from the start; only jobs that need nothing reach the executor", async () => {
    const t = build();
    t.scheduler.accept(trigger(), PIPELINE);
    await t.settle();
    expect(t.started()).toEqual(["build"]);
    expect(t.shown()).toEqual({
      build: "queued / Queued",
      "test (20)": "queued / Waiting for `build`",
      "test (22)": "queued / Waiting for `build`",
      deploy: "queued / Waiting for `test (20)` and `test (22)`",
    });
  });

  it("all passing: deploy starts only after both test combinations succeeded", async () => {
    const t = build();
    t.scheduler.accept(trigger(), PIPELINE);
    await t.settle();
    t.executor.finish(t.latest("build").spec.id, "succeeded", 0);
    await t.settle();
    expect(t.started()).toEqual(["build", "test (20)", "test (22)"]);
    t.executor.finish(t.latest("test (20)").spec.id, "succeeded", 0);
    await t.settle();
    expect(t.started()).not.toContain("deploy");
    expect(t.shown().deploy).toBe("queued / Waiting for `test (22)`");
    t.executor.finish(t.latest("test (22)").spec.id, "succeeded", 0);
    await t.settle();
    expect(t.started()).toEqual(["build", "test (20)", "test (22)", "deploy"]);
  });

  it("build failing: its dependents complete as skipped, with the reason, and never start", async () => {
    const t = build();
    t.scheduler.accept(trigger(), PIPELINE);
    await t.settle();
    t.executor.finish(t.latest("build").spec.id, "failed", 1);
    await t.settle();
    expect(t.started()).toEqual(["build"]);
    expect(t.shown()).toMatchObject({
      "test (20)": "completed / skipped / Skipped: `build` failed",
      "test (22)": "completed / skipped / Skipped: `build` failed",
      deploy: "completed / skipped / Skipped: `test (20)` was skipped",
    });
  });

  it("/retest-style re-run of what did not succeed: the failed job runs, the skipped ones wait for it again", async () => {
    const t = build();
    t.scheduler.accept(trigger(), PIPELINE);
    await t.settle();
    t.executor.finish(t.latest("build").spec.id, "failed", 1);
    await t.settle();
    const failed = t.scheduler.latestRuns("o", "r", SHA).filter((r) => r.conclusion !== "success");
    // Order does not matter: the dependents are listed first here.
    const again = t.scheduler.rerunMany(failed.reverse().map((r) => r.spec.id));
    expect(again.map((r) => r.spec.attempt)).toEqual([2, 2, 2, 2]);
    await t.settle();
    expect(t.started()).toEqual(["build", "build"]);
    expect(t.latest("deploy")).toMatchObject({ phase: "queued", waitingFor: ["test (20)", "test (22)"] });
    t.executor.finish(t.latest("build").spec.id, "succeeded", 0);
    await t.settle();
    expect(t.started().sort()).toEqual(["build", "build", "test (20)", "test (22)"]);
  });

  it("Re-run of one job: it runs alone (not waiting for what it needs), its skipped dependents come along", async () => {
    const t = build();
    t.scheduler.accept(trigger(), [job("build"), job("test", ["build"]), job("deploy", ["test"]), job("lint")]);
    await t.settle();
    t.executor.finish(t.latest("build").spec.id, "succeeded", 0);
    t.executor.finish(t.latest("lint").spec.id, "failed", 1);
    await t.settle();
    t.executor.finish(t.latest("test").spec.id, "failed", 1);
    await t.settle();
    expect(t.latest("deploy").conclusion).toBe("skipped");
    const next = t.scheduler.rerunWithDependents(t.latest("test").spec.id)!;
    expect(next.spec.attempt).toBe(2);
    await t.settle();
    expect(t.started()).toEqual(["build", "lint", "test", "test"]);
    expect(t.latest("deploy")).toMatchObject({ phase: "queued", waitingFor: ["test"], spec: { attempt: 2 } });
    expect(t.latest("lint").spec.attempt).toBe(1); // unrelated failures are not re-run
    expect(t.latest("build").spec.attempt).toBe(1);
    t.executor.finish(next.spec.id, "succeeded", 0);
    await t.settle();
    expect(t.started()).toEqual(["build", "lint", "test", "test", "deploy"]);
  });

  it("cancelling a held job ends it at once, without the executor", async () => {
    const t = build();
    t.scheduler.accept(trigger(), PIPELINE);
    await t.settle();
    await t.scheduler.cancel(t.latest("deploy").spec.id, "requested by @me");
    await t.settle();
    expect(t.executor.cancelled).toEqual([]);
    expect(t.latest("deploy")).toMatchObject({ phase: "completed", conclusion: "cancelled" });
    expect(t.shown().deploy).toBe("completed / cancelled / Cancelled: requested by @me");
  });

  it("a restart mid-pipeline finishes the graph: what ended while the app was away releases its dependents", async () => {
    const first = build();
    first.scheduler.accept(trigger(), PIPELINE);
    await first.settle();
    const buildId = first.latest("build").spec.id;
    first.executor.run(buildId);
    await first.settle();
    first.scheduler.close();

    // The backend still has `build`, which succeeded meanwhile.
    const executor = new FakeExecutor();
    const spec = first.store.get(buildId)!.spec;
    executor.recoverable = [{ spec, observation: { runId: buildId, phase: "finished", outcome: "succeeded", finishedAt: new Date(), exitCode: 0 } }];
    const again = build(first.dir, executor);
    await again.scheduler.recover();
    await again.settle();
    expect(again.started()).toEqual(["test (20)", "test (22)"]);
    for (const name of ["test (20)", "test (22)"]) again.executor.finish(again.latest(name).spec.id, "succeeded", 0);
    await again.settle();
    expect(again.started()).toEqual(["test (20)", "test (22)", "deploy"]);
    // Each check run written once per state: no second "completed" for build.
    expect(again.checks.writes.filter((w) => w.u.name === "build" && w.u.status === "completed")).toHaveLength(1);
  });

  it("a shared backend: the replica that loses the first job's claim shows none of the commit's jobs", async () => {
    const t = build(undefined, new FakeExecutor().claims("exists"));
    const accepted = t.scheduler.accept(trigger(), PIPELINE);
    expect(accepted).toHaveLength(4);
    await t.settle();
    await t.settle();
    expect(t.checks.writes).toEqual([]);
    expect(t.store.list()).toEqual([]);
  });

  it("a shared backend: the winner claims its dependents only when they may start", async () => {
    const t = build(undefined, new FakeExecutor().claims("created"));
    t.scheduler.accept(trigger(), PIPELINE);
    await t.settle();
    await t.settle();
    expect(t.executor.claimed).toHaveLength(1);
    expect(Object.keys(t.shown())).toHaveLength(4);
    t.executor.finish(t.latest("build").spec.id, "succeeded", 0);
    await t.settle();
    await t.settle();
    expect(t.executor.claimed).toHaveLength(3);
  });
});

describe("needs on a shared backend: a cancel while the commit's first claim is undecided", () => {
  /** An executor whose claims wait until the test answers them. */
  const slowClaims = () => {
    const executor = new FakeExecutor();
    const answers: Array<(a: "created" | "exists") => void> = [];
    executor.claim = (spec) =>
      new Promise((resolve) => {
        answers.push((a) => {
          if (a === "created") executor.claimed.push(spec.id);
          resolve(a);
        });
      });
    return { executor, answers };
  };

  it("lost: a newer push on the branch meanwhile neither shows nor cancels anything of the other replica's commit", async () => {
    const { executor, answers } = slowClaims();
    const t = build(undefined, executor);
    t.scheduler.accept(trigger(), PIPELINE);
    await t.settle();
    expect(answers).toHaveLength(1);
    t.scheduler.supersede(trigger({ sha: "b".repeat(40) }));
    await t.settle();
    answers[0]!("exists");
    await t.settle();
    await t.settle();
    expect(t.checks.writes).toEqual([]);
    expect(t.executor.cancelled).toEqual([]);
    expect(t.store.list()).toEqual([]);
  });

  it("won: the cancel applies once the claim is won; every job ends cancelled, each check run completed once", async () => {
    const { executor, answers } = slowClaims();
    const t = build(undefined, executor);
    t.scheduler.accept(trigger(), PIPELINE);
    await t.settle();
    t.scheduler.supersede(trigger({ sha: "b".repeat(40) }));
    await t.settle();
    answers[0]!("created");
    await t.settle();
    await t.settle();
    // build's Job is cancelled; its dependents end without reaching the executor (cancelled, or skipped
    // when build's end decided them first).
    expect(t.latest("build")).toMatchObject({ phase: "completed", outcome: "cancelled" });
    for (const name of ["test (20)", "test (22)", "deploy"]) expect(["cancelled", "skipped"], name).toContain(t.latest(name).outcome);
    expect(t.executor.cancelled).toEqual([t.latest("build").spec.id]);
    expect(t.started()).toEqual(["build"]);
    for (const name of ["build", "test (20)", "test (22)", "deploy"]) {
      expect(t.checks.writes.filter((w) => w.u.name === name && w.u.status === "completed"), name).toHaveLength(1);
    }
  });
});
