import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Reporter, statusState } from "../../../src/runs/reporter.js";
import { RunStore } from "../../../src/runs/run-store.js";
import { LogStore } from "../../../src/logs/log-store.js";
import { MemoryChecks } from "../../fakes/memory-checks.js";
import { fakeRecord } from "../../fakes/records.js";

const silent = { info() {}, warn() {}, error() {} };

function setup(checks = new MemoryChecks(), extra: { budgetLow?: () => boolean; now?: () => number } = {}) {
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

  it("when the installation's rate limit runs low, skips intermediate updates but never the final one", async () => {
    const { store, reporter, checks } = setup(undefined, { budgetLow: () => true });
    const id = fakeRecord().spec.id;
    store.put(fakeRecord());
    await reporter.report(id); // the check run must exist: created even so
    store.put({ ...store.get(id)!, phase: "in_progress", startedAt: "2026-11-29T10:00:01.000Z" });
    await reporter.report(id);
    store.put({ ...store.get(id)!, phase: "completed", conclusion: "success", finishedAt: "2026-11-29T10:00:09.000Z" });
    await reporter.report(id);
    expect(checks.writes.map((w) => w.u.status)).toEqual(["queued", "completed"]);
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
});
