import { describe, expect, it } from "vitest";
import { dependentsOf, needsVerdict, skipReason, waitingText, type NeededRun } from "../../../src/core/pipeline.js";

const done = (conclusion: NeededRun["conclusion"]): NeededRun => ({ phase: "completed", conclusion });
const running: NeededRun = { phase: "in_progress" };
const queued: NeededRun = { phase: "queued" };

describe("needsVerdict", () => {
  const cases: [string, string[], Record<string, NeededRun>, ReturnType<typeof needsVerdict>][] = [
    ["all succeeded: start", ["a", "b"], { a: done("success"), b: done("success") }, { kind: "start" }],
    ["one still running: wait for it", ["a", "b"], { a: done("success"), b: running }, { kind: "wait", waitingFor: ["b"] }],
    ["none ended: wait for all, in order", ["a", "b"], { a: queued, b: running }, { kind: "wait", waitingFor: ["a", "b"] }],
    ["one failed: skip at once, even while another runs", ["a", "b"], { a: running, b: done("failure") }, { kind: "skip", reason: "`b` failed" }],
    ["timed out", ["a"], { a: done("timed_out") }, { kind: "skip", reason: "`a` timed out" }],
    ["cancelled", ["a"], { a: done("cancelled") }, { kind: "skip", reason: "`a` was cancelled" }],
    ["skipped in turn", ["a"], { a: done("skipped") }, { kind: "skip", reason: "`a` was skipped" }],
    ["a need that never ran", ["a", "gone"], { a: done("success") }, { kind: "skip", reason: "`gone` did not run" }],
    ["the first failure in `needs` order is named", ["a", "b"], { a: done("timed_out"), b: done("failure") }, { kind: "skip", reason: "`a` timed out" }],
  ];
  it.each(cases)("%s", (_name, needs, latest, verdict) => {
    expect(needsVerdict(needs, new Map(Object.entries(latest)))).toEqual(verdict);
  });
});

describe("texts", () => {
  it("waiting lists up to three jobs", () => {
    expect(waitingText(["build"])).toBe("Waiting for `build`");
    expect(waitingText(["a", "b"])).toBe("Waiting for `a` and `b`");
    expect(waitingText(["a", "b", "c"])).toBe("Waiting for `a`, `b` and `c`");
    expect(waitingText(["a", "b", "c", "d", "e"])).toBe("Waiting for `a`, `b`, `c` and 2 more");
  });
  it("a failure's reason", () => {
    expect(skipReason("test (20, pg)", "failure")).toBe("`test (20, pg)` failed");
  });
});

describe("dependentsOf", () => {
  const jobs = new Map<string, string[]>([
    ["build", []],
    ["test (20)", ["build"]],
    ["test (22)", ["build"]],
    ["deploy", ["test (20)", "test (22)"]],
    ["lint", []],
  ]);
  it("follows the graph transitively, and leaves out unrelated jobs", () => {
    expect([...dependentsOf(["build"], jobs)].sort()).toEqual(["deploy", "test (20)", "test (22)"]);
    expect([...dependentsOf(["test (22)"], jobs)]).toEqual(["deploy"]);
    expect([...dependentsOf(["lint"], jobs)]).toEqual([]);
  });
});
