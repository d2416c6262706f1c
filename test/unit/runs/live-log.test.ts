import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Reporter } from "../../../src/runs/reporter.js";
import { WriteBudget } from "../../../src/github/octokit.js";
import { RunStore } from "../../../src/runs/run-store.js";
import { LogStore, type LogTail } from "../../../src/logs/log-store.js";
import type { CheckRunUpdate } from "../../../src/core/check-update.js";
import type { RunRecord } from "../../../src/core/run.js";
import type { CheckRunTarget, CheckRunWriter } from "../../../src/runs/reporter.js";
import { MemoryChecks } from "../../fakes/memory-checks.js";
import { fakeRecord } from "../../fakes/records.js";

/**
 * Issue 16: a running job's check run shows its log so far, refreshed at most every interval and
 * only when the log grew, never at the expense of a result. Time is a hand-driven clock: every
 * timer the reporter (and the write budget) arms goes into `Sim`, which runs them in order.
 */

const silent = { info() {}, warn() {}, error() {} };
const T0 = Date.parse("2026-11-29T10:00:00.000Z");

/** A virtual clock and timer queue. */
class Sim {
  now = T0;
  private timers: { at: number; seq: number; fn: () => void }[] = [];
  private seq = 0;
  /** The work to wait for after each timer (the reporter's `idle`). */
  idle: () => Promise<void> = async () => {};
  /** Resolves when something waits on the simulated clock (the write budget holding a final write back). */
  private sleeping: { promise: Promise<void>; resolve: () => void } = Sim.signal();
  private static signal() {
    let resolve!: () => void;
    return { promise: new Promise<void>((r) => (resolve = r)), resolve };
  }
  setTimer = (fn: () => void, ms: number) => {
    this.timers.push({ at: this.now + ms, seq: this.seq++, fn });
  };
  sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      this.setTimer(resolve, ms);
      this.sleeping.resolve();
    });
  /** Waits until the work started so far is done, or waits on the simulated clock. */
  async settle(): Promise<void> {
    this.sleeping = Sim.signal();
    await Promise.race([this.idle(), this.sleeping.promise]);
  }
  /** Runs every timer due up to `until`, in order, letting each one's work finish. */
  async runUntil(until: number): Promise<void> {
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > until) break;
      this.timers.shift();
      this.now = Math.max(this.now, next.at);
      next.fn();
      await this.settle();
    }
    this.now = until;
  }
}

function setup(extra: { budgetLow?: () => boolean; checks?: CheckRunWriter; intermediateDelayMs?: (r: RunRecord) => number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "yaci-live-"));
  const store = new RunStore(dir);
  const logs = new LogStore(dir);
  const sim = new Sim();
  const checks = (extra.checks ?? new MemoryChecks()) as MemoryChecks;
  const live: string[] = [];
  const running = new Set<string>();
  const reporter = new Reporter({
    store,
    logs,
    checks,
    executorKind: "local",
    log: silent,
    setTimer: sim.setTimer,
    now: () => sim.now,
    liveIntervalMs: 15_000,
    // As the local executor: the log it writes, while the job runs.
    liveLog: async (r) => (running.has(r.spec.id) ? logs.tail(r.spec.id, 80_000) : undefined),
    onLive: (result) => live.push(result),
    ...(extra.budgetLow ? { budgetLow: extra.budgetLow } : {}),
    ...(extra.intermediateDelayMs ? { intermediateDelayMs: extra.intermediateDelayMs } : {}),
  });
  sim.idle = () => reporter.idle();
  return { store, logs, sim, checks, reporter, live, running };
}

const iso = (ms: number) => new Date(ms).toISOString();

describe("live log in the running job's check run", () => {
  it("shows the first line while the job runs, nothing more while the log does not grow, and the rest only in the final result", async () => {
    const { store, logs, sim, checks, reporter, live, running } = setup();
    const id = fakeRecord().spec.id;
    store.put(fakeRecord({ phase: "in_progress", startedAt: iso(T0) }));
    running.add(id);
    await logs.write(id, "");
    await reporter.report(id);
    expect(checks.writes.map((w) => [w.u.status, w.u.title, w.u.text])).toEqual([["in_progress", "Running", undefined]]);

    await logs.append(id, "\u001b[32mfirst line\u001b[0m\n");
    await sim.runUntil(T0 + 15_000);
    await reporter.idle();
    expect(checks.writes).toHaveLength(2);
    const shown = checks.writes[1]!.u;
    expect(shown.status).toBe("in_progress");
    expect(shown.title).toBe("Running for 15s");
    expect(shown.text).toContain("first line");
    expect(shown.text).not.toContain("\u001b["); // ANSI stripped, as in the final excerpt
    expect(shown.summary).toContain("Log so far");

    // Acceptance 3: 45 s more without output: no further write.
    await sim.runUntil(T0 + 60_000);
    await reporter.idle();
    expect(checks.writes).toHaveLength(2);
    expect(live).toEqual(["written"]);

    // The job prints its second line and ends before the next refresh: that line is only in the result.
    await logs.append(id, "second line\n");
    running.delete(id);
    store.put({ ...store.get(id)!, phase: "completed", conclusion: "success", finishedAt: iso(T0 + 61_000), exitCode: 0 });
    await reporter.report(id);
    await sim.runUntil(T0 + 120_000);
    await reporter.idle();
    expect(checks.writes.map((w) => w.u.status)).toEqual(["in_progress", "in_progress", "completed"]);
    expect(checks.writes[2]!.u.text).toContain("second line");
    expect(checks.writes.filter((w) => w.u.status === "in_progress" && w.u.text?.includes("second line"))).toEqual([]);
  });

  it("keeps the log's end within GitHub's limit and says how many bytes were left out", async () => {
    const { store, logs, sim, checks, reporter, running } = setup();
    const id = fakeRecord().spec.id;
    store.put(fakeRecord({ phase: "in_progress", startedAt: iso(T0) }));
    running.add(id);
    await reporter.report(id);
    await logs.write(id, "x".repeat(199) + "\n" + "y".repeat(500_000) + "\nthe end\n");
    await sim.runUntil(T0 + 15_000);
    await reporter.idle();
    const text = checks.writes.at(-1)!.u.text!;
    expect(text.length).toBeLessThanOrEqual(65_535);
    expect(text).toMatch(/[\d,]+ bytes of the log's start were left out/);
    expect(text).toContain("the end");
  });

  it("skips a refresh while the installation's rate limit is low (no read, no write), and counts it", async () => {
    let low = true;
    const reads: string[] = [];
    const { store, logs, sim, checks, reporter, live, running } = setup({ budgetLow: () => low });
    const id = fakeRecord().spec.id;
    store.put(fakeRecord({ phase: "in_progress", startedAt: iso(T0) }, { id }));
    running.add(id);
    await logs.write(id, "a line\n");
    await reporter.report(id); // skipped too: an intermediate write
    const tail = logs.tail.bind(logs);
    logs.tail = async (runId: string, n: number): Promise<LogTail> => {
      reads.push(runId);
      return tail(runId, n);
    };
    await sim.runUntil(T0 + 30_000);
    await reporter.idle();
    expect(checks.writes).toEqual([]);
    expect(reads).toEqual([]);
    expect(live).toEqual(["skipped", "skipped"]);
    low = false;
    await sim.runUntil(T0 + 45_000);
    await reporter.idle();
    expect(checks.writes.map((w) => w.u.text?.includes("a line"))).toEqual([true]);
  });

  it("200 running jobs of one installation: at most 80 writes in any minute, every result within 5 s of its job's end", async () => {
    const installation = "42";
    const budget = { writes: [] as { at: number; status: string }[] };
    // The real write budget (GitHub's 80/min and 500/h, 50 and 300 kept for final writes) on the
    // simulated clock, taken as the Octokit takes it: a completed check run is final, the rest intermediate.
    const sim0 = new Sim();
    const writeBudget = new WriteBudget(undefined, () => sim0.now, sim0.sleep);
    const checks = new MemoryChecks();
    const through = <T>(u: CheckRunUpdate, fn: () => Promise<T>) =>
      writeBudget.key(installation).schedule({ priority: u.status === "completed" ? "final" : "intermediate" }, async () => {
        budget.writes.push({ at: sim0.now, status: u.status });
        return fn();
      });
    const create = checks.create.bind(checks);
    const update = checks.update.bind(checks);
    checks.create = (t: CheckRunTarget, u: CheckRunUpdate) => through(u, () => create(t, u));
    checks.update = (t: CheckRunTarget, id: number, u: CheckRunUpdate) => through(u, () => update(t, id, u));

    const dir = mkdtempSync(join(tmpdir(), "yaci-live-200-"));
    const store = new RunStore(dir);
    const logs = new LogStore(dir);
    const sim = sim0;
    const ended = new Map<string, number>();
    const finals = new Map<string, number>();
    const live: string[] = [];
    const reporter = new Reporter({
      store,
      logs,
      checks,
      executorKind: "local",
      log: silent,
      setTimer: sim.setTimer,
      now: () => sim.now,
      liveIntervalMs: 15_000,
      intermediateDelayMs: () => writeBudget.delayFor(installation, "intermediate"),
      // Every job prints a line a second: its log always grew since the last refresh.
      liveLog: async (r) => {
        if (ended.has(r.spec.id)) return undefined;
        const lines = Math.floor((sim.now - T0) / 1000);
        return { text: `line ${lines}\n`, omittedBytes: lines * 8, totalBytes: lines * 8 + 8 };
      },
      onLive: (result) => live.push(result),
      onFinalReported: (r) => void finals.set(r.spec.id, sim.now),
    });
    sim.idle = () => reporter.idle();
    const ids = Array.from({ length: 200 }, (_, i) => `yaci-live-${i}`);
    for (const id of ids) {
      store.put(fakeRecord({ phase: "in_progress", startedAt: iso(T0) }, { id }));
      void reporter.report(id);
    }
    await sim.settle();
    // The jobs end 1.5 s apart from the second minute on (40 a minute, within the 50 kept for results).
    const endAt = (i: number) => T0 + 60_000 + i * 1_500;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      await sim.runUntil(endAt(i));
      ended.set(id, sim.now);
      store.put({ ...store.get(id)!, phase: "completed", conclusion: "success", exitCode: 0, finishedAt: iso(sim.now) });
      void reporter.report(id);
      await sim.settle();
    }
    await sim.runUntil(endAt(199) + 60_000);

    expect(finals.size).toBe(200);
    const late = ids.filter((id) => finals.get(id)! - ended.get(id)! > 5_000);
    expect(late).toEqual([]);
    let busiest = 0;
    for (const w of budget.writes) busiest = Math.max(busiest, budget.writes.filter((x) => x.at >= w.at && x.at < w.at + 60_000).length);
    expect(busiest).toBeLessThanOrEqual(80);
    expect(budget.writes.filter((w) => w.status === "completed")).toHaveLength(200);
    // Live logs did go out, and many refreshes were skipped for the budget: it is shared by 200 jobs.
    expect(live.filter((l) => l === "written").length).toBeGreaterThan(20);
    expect(live.filter((l) => l === "skipped").length).toBeGreaterThan(100);
    expect(checks.writes.some((w) => w.u.status === "in_progress" && w.u.text?.includes("line"))).toBe(true);
  });
});
