import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Reporter, statusState } from "../../../src/runs/reporter.js";
import { WriteSkipped } from "../../../src/github/octokit.js";
import { RunStore } from "../../../src/runs/run-store.js";
import { LogStore } from "../../../src/logs/log-store.js";
import { MemoryChecks } from "../../fakes/memory-checks.js";
import { fakeRecord } from "../../fakes/records.js";

const silent = { info() {}, warn() {}, error() {} };

function setup(
  checks = new MemoryChecks(),
  extra: { budgetLow?: () => boolean; now?: () => number; intermediateDelayMs?: () => number; onWrite?: (kind: string) => void } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), "yaci-rep-"));
  const store = new RunStore(dir);
  const timers: { fn: () => void; ms: number }[] = [];
  const reporter = new Reporter({
    store,
    logs: new LogStore(dir),
    checks,
    executorKind: "local",
    log: silent,
    retryDelaysMs: [10, 20],
    setTimer: (fn, ms) => timers.push({ fn, ms }),
    ...extra,
  });
  return { store, reporter, checks, timers };
}

describe("Reporter", () => {
  it("writes a state once: the same state twice is one write", async () => {
    const { store, reporter, checks } = setup();
    store.put(fakeRecord());
    await reporter.report(fakeRecord().spec.id);
    await reporter.report(fakeRecord().spec.id);
    expect(checks.writes.map((w) => [w.op, w.u.status])).toEqual([["create", "queued"]]);
    store.put({ ...store.get(fakeRecord().spec.id)!, phase: "in_progress", startedAt: "2026-11-29T10:00:01.000Z" });
    await reporter.report(fakeRecord().spec.id);
    expect(checks.writes.map((w) => [w.op, w.u.status])).toEqual([["create", "queued"], ["update", "in_progress"]]);
  });

  it("retries a failing write through an outage of any length, honouring retry-after", async () => {
    let failures = 5;
    const checks = new MemoryChecks();
    const create = checks.create.bind(checks);
    checks.create = async (t, u) => {
      if (failures-- > 0) throw Object.assign(new Error("unavailable"), { status: 503, response: { headers: failures === 0 ? { "retry-after": "7" } : {} } });
      return create(t, u);
    };
    const { store, reporter, timers } = setup(checks);
    store.put(fakeRecord());
    await reporter.report(fakeRecord().spec.id);
    for (let i = 0; i < 5; i++) {
      const t = timers.shift()!;
      t.fn();
      await reporter.idle();
      if (i < 4) expect(t.ms).toBe([10, 20, 20, 20][i]);
      else expect(t.ms).toBe(7_000);
    }
    expect(checks.writes.map((w) => w.u.status)).toEqual(["queued"]);
    expect(timers).toEqual([]);
  });

  it.each([
    ["a validation error", 422, "Validation Failed", {}, false],
    ["a missing permission", 403, "Resource not accessible by integration", {}, false],
    ["a secondary rate limit", 403, "You have exceeded a secondary rate limit", { "retry-after": "30" }, true],
    ["an exhausted primary rate limit", 403, "API rate limit exceeded", { "x-ratelimit-remaining": "0" }, true],
    ["too many requests", 429, "Too Many Requests", {}, true],
    ["a server error", 502, "Bad Gateway", {}, true],
  ])("after %s (%i) it retries: %s", async (_name, code, message, headers, retries) => {
    const checks = new MemoryChecks();
    checks.create = async () => {
      throw Object.assign(new Error(message), { status: code, response: { headers } });
    };
    const { store, reporter, timers } = setup(checks);
    store.put(fakeRecord());
    await reporter.report(fakeRecord().spec.id);
    expect(timers.length).toBe(retries ? 1 : 0);
  });

  it("when the installation's rate limit runs low, skips intermediate writes but never the final one (which creates the check run)", async () => {
    const { store, reporter, checks } = setup(undefined, { budgetLow: () => true });
    const id = fakeRecord().spec.id;
    store.put(fakeRecord());
    await reporter.report(id);
    store.put({ ...store.get(id)!, phase: "in_progress", startedAt: "2026-11-29T10:00:01.000Z" });
    await reporter.report(id);
    store.put({ ...store.get(id)!, phase: "completed", conclusion: "success", finishedAt: "2026-11-29T10:00:09.000Z" });
    await reporter.report(id);
    expect(checks.writes.map((w) => [w.op, w.u.status])).toEqual([["create", "completed"]]);
  });

  it("coalesces updates of a running job: at most one per 10 s, the latest state wins", async () => {
    let now = 1_000_000;
    const { store, reporter, checks, timers } = setup(undefined, { now: () => now });
    const id = fakeRecord().spec.id;
    store.put(fakeRecord({ phase: "in_progress", startedAt: "2026-11-29T10:00:01.000Z" }));
    await reporter.report(id);
    store.put({ ...store.get(id)!, cancelReason: "requested by @a" }); // a detail of the summary changes while it runs
    await reporter.report(id);
    expect(checks.writes).toHaveLength(1);
    expect(timers.map((t) => t.ms)).toEqual([10_000]);
    now += 10_000;
    timers.shift()!.fn();
    await reporter.idle();
    expect(checks.writes.map((w) => w.u.status)).toEqual(["in_progress", "in_progress"]);
    expect(checks.writes[1]!.u.summary).toContain("requested by @a");
  });

  it.each([
    ["queued", undefined, "pending"],
    ["completed", "success", "success"],
    ["completed", "failure", "failure"],
    ["completed", "timed_out", "failure"],
    ["completed", "cancelled", "error"],
    ["completed", "action_required", "pending"],
  ] as const)("commit status for %s/%s is %s", (phase, conclusion, state) => {
    expect(statusState(phase, conclusion)).toBe(state);
  });

  it("a job that ended before its queued write went out is created straight as completed", async () => {
    const { store, reporter, checks } = setup();
    const id = fakeRecord().spec.id;
    store.put(fakeRecord());
    const first = reporter.report(id); // the queued write is on its way…
    store.put({ ...store.get(id)!, phase: "in_progress", startedAt: "2026-11-29T10:00:01.000Z" });
    store.put({ ...store.get(id)!, phase: "completed", conclusion: "success", finishedAt: "2026-11-29T10:00:01.500Z" });
    void reporter.report(id);
    void reporter.report(id);
    await first;
    await reporter.idle();
    expect(checks.writes.map((w) => [w.op, w.u.status])).toEqual([["create", "completed"]]);
  });

  it("with the budget's share for intermediate writes gone, queued and in-progress writes are skipped and tried again when there is room; the final one always goes", async () => {
    let delay = 30_000;
    const kinds: string[] = [];
    const { store, reporter, checks, timers } = setup(undefined, { intermediateDelayMs: () => delay, onWrite: (k) => kinds.push(k) });
    const id = fakeRecord().spec.id;
    store.put(fakeRecord({ phase: "in_progress", startedAt: "2026-11-29T10:00:01.000Z" }));
    await reporter.report(id);
    expect(checks.writes).toEqual([]);
    expect(timers.map((t) => t.ms)).toEqual([30_000]);
    delay = 0; // the minute passed: the job, still running, is shown in progress
    timers.shift()!.fn();
    await reporter.idle();
    expect(checks.writes.map((w) => [w.op, w.u.status])).toEqual([["create", "in_progress"]]);
    delay = 30_000;
    store.put({ ...store.get(id)!, phase: "completed", conclusion: "success", finishedAt: "2026-11-29T10:00:09.000Z" });
    await reporter.report(id);
    expect(checks.writes.map((w) => [w.op, w.u.status])).toEqual([["create", "in_progress"], ["update", "completed"]]);
    expect(kinds).toEqual(["skipped", "in_progress", "final"]);
  });

  it("an intermediate write the budget refuses at send time (WriteSkipped) is not retried as a failure, and leaves nothing half-created", async () => {
    const checks = new MemoryChecks();
    const create = checks.create.bind(checks);
    let refuse = true;
    checks.create = async (t, u) => {
      if (refuse && u.status !== "completed") throw new WriteSkipped("42", 5_000);
      return create(t, u);
    };
    const { store, reporter, timers } = setup(checks);
    const id = fakeRecord().spec.id;
    store.put(fakeRecord());
    await reporter.report(id);
    expect(timers.map((t) => t.ms)).toEqual([5_000]);
    expect(store.get(id)!.checkRunCreating).toBeUndefined();
    store.put({ ...store.get(id)!, phase: "completed", conclusion: "failure", finishedAt: "2026-11-29T10:00:09.000Z" });
    await reporter.report(id);
    refuse = false;
    timers.shift()!.fn(); // the retry finds the final state already written: nothing more
    await reporter.idle();
    expect(checks.writes.map((w) => [w.op, w.u.status])).toEqual([["create", "completed"]]);
  });

  it("when GitHub refuses a final write as invalid (422), a smaller one still completes the check run", async () => {
    const checks = new MemoryChecks();
    const update = checks.update.bind(checks);
    checks.update = async (t, id, u) => {
      if (u.text !== undefined) throw Object.assign(new Error("Invalid request.\n\noutput.text is too long"), { status: 422, response: { headers: {} } });
      return update(t, id, u);
    };
    const { store, reporter, timers } = setup(checks);
    const id = fakeRecord().spec.id;
    store.put(fakeRecord());
    await reporter.report(id);
    store.put({ ...store.get(id)!, phase: "completed", conclusion: "success", startedAt: "2026-11-29T10:00:01.000Z", finishedAt: "2026-11-29T10:00:09.000Z" });
    await reporter.report(id);
    const last = checks.writes.at(-1)!;
    expect(last.u).toMatchObject({ status: "completed", conclusion: "success" });
    expect(last.u.text).toBeUndefined();
    expect(last.u.summary).toContain("GitHub refused this check run's full output (Invalid request.)");
    expect(store.get(id)!.reported?.phase).toBe("completed");
    expect(timers).toEqual([]);
  });
});
