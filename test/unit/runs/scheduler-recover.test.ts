import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Trigger } from "../../../src/core/trigger.js";
import type { RecoveredJob } from "../../../src/executors/executor.js";
import { LogStore } from "../../../src/logs/log-store.js";
import { Reporter } from "../../../src/runs/reporter.js";
import { RunStore } from "../../../src/runs/run-store.js";
import { Scheduler } from "../../../src/runs/scheduler.js";
import { FakeExecutor } from "../../fakes/fake-executor.js";
import { MemoryChecks } from "../../fakes/memory-checks.js";
import { fakeRecord, fakeSpec } from "../../fakes/records.js";

/**
 * What a restart after a SIGKILL left (test/faults/sigkill-restart-kubernetes.test.ts found each):
 * runs of the new process accepted while the executor still lists the old ones, a Job whose
 * creator died half-way, a result that reached GitHub but whose backend mark did not.
 */

const silent = { info() {}, warn() {}, error() {} };
const trigger: Trigger = { event: "push", installationId: 1, owner: "o", repo: "r", sha: "f".repeat(40), ref: "refs/heads/main", branch: "main" };
const job = { name: "test", image: "alpine", run: "true", timeoutMs: 60_000, env: {} };

/** A fake executor whose `recover()` answers only when the test lets it (a slow first list). */
class SlowRecovery extends FakeExecutor {
  private release!: (jobs: RecoveredJob[]) => void;
  private readonly answer = new Promise<RecoveredJob[]>((r) => (this.release = r));
  override recover(): Promise<RecoveredJob[]> {
    return this.answer;
  }
  answerRecover(jobs: RecoveredJob[] = []): void {
    this.release(jobs);
  }
}

function build<E extends FakeExecutor>(executor: E) {
  const dir = mkdtempSync(join(tmpdir(), "yaci-sched-recover-"));
  const store = new RunStore(dir);
  const checks = new MemoryChecks();
  const reporter = new Reporter({ store, logs: new LogStore(dir), checks, executorKind: "fake", log: silent, retryDelaysMs: [] });
  const scheduler = new Scheduler({ store, executor, reporter, log: silent });
  const settle = async () => {
    await new Promise((r) => setTimeout(r, 10));
    await reporter.idle();
  };
  return { store, checks, scheduler, executor, settle };
}

describe("Scheduler.recover after a crash", () => {
  it("a run this process accepted while the executor was still listing is neither interrupted nor started again", async () => {
    const { scheduler, executor, store, settle } = build(new SlowRecovery());
    const recovering = scheduler.recover();
    const [r] = scheduler.accept(trigger, [job]); // a delivery handled while recovery waits for the cluster
    await settle();
    executor.run(r!.spec.id);
    await settle();
    executor.answerRecover([]);
    await recovering;
    await settle();
    expect(store.get(r!.spec.id)).toMatchObject({ phase: "in_progress" });
    expect(executor.started.map((s) => s.id)).toEqual([r!.spec.id]);
  });

  it("a Job the backend holds that its creator never started, while its record is queued, is started again (start adopts it)", async () => {
    const executor = new FakeExecutor();
    const spec = fakeSpec({ id: "yaci-half-made-1" });
    const queued = fakeSpec({ id: "yaci-just-queued-1", key: { ...fakeSpec().key, job: "queued" } });
    executor.recoverable = [
      { spec, observation: { runId: spec.id, phase: "pending" }, unstarted: true },
      // Started, waiting for the fair queue or a node: left alone (no second start, no API calls).
      { spec: queued, observation: { runId: queued.id, phase: "pending" } },
    ];
    const { scheduler, store, settle } = build(executor);
    store.put(fakeRecord({ executor: "fake" }, spec));
    store.put(fakeRecord({ executor: "fake" }, queued));
    await scheduler.recover();
    await settle();
    expect(executor.started.map((s) => s.id)).toEqual([spec.id]);
  });

  it("a result that reached GitHub before the crash, without the backend's mark: marked now, nothing written again", async () => {
    const executor = new FakeExecutor();
    const spec = fakeSpec({ id: "yaci-unmarked-1" });
    executor.recoverable = [{ spec, observation: { runId: spec.id, phase: "finished", outcome: "succeeded", exitCode: 0, finishedAt: new Date() } }];
    const { scheduler, store, checks, settle } = build(executor);
    const reported = { phase: "completed" as const, conclusion: "success" as const, digest: "before" };
    store.put(fakeRecord({ executor: "fake", phase: "completed", outcome: "succeeded", conclusion: "success", exitCode: 0, checkRunId: 7, reported }, spec));
    await scheduler.recover();
    await settle();
    expect(executor.reported).toEqual([spec.id]);
    expect(checks.writes).toEqual([]);
  });
});
