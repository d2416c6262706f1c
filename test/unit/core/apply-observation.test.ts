import { describe, expect, it } from "vitest";
import { applyObservation, INTERRUPTED_MESSAGE } from "../../../src/core/run.js";
import { fakeRecord } from "../../fakes/records.js";

const id = fakeRecord().spec.id;
const at = new Date("2026-11-29T10:00:05.000Z");
const end = new Date("2026-11-29T10:00:47.000Z");

describe("applyObservation (queued → in_progress → completed)", () => {
  it("starts a queued run once", () => {
    const started = applyObservation(fakeRecord(), { runId: id, phase: "running", startedAt: at })!;
    expect(started).toMatchObject({ phase: "in_progress", startedAt: at.toISOString() });
    expect(applyObservation(started, { runId: id, phase: "running", startedAt: end })).toBeNull();
  });

  it("keeps a waiting reason while queued and clears it when running", () => {
    const waiting = applyObservation(fakeRecord(), { runId: id, phase: "pending", waitingReason: "unschedulable" })!;
    expect(waiting).toMatchObject({ phase: "queued", waitingReason: "unschedulable" });
    expect(applyObservation(waiting, { runId: id, phase: "pending", waitingReason: "unschedulable" })).toBeNull();
    expect(applyObservation(waiting, { runId: id, phase: "running", startedAt: at })!.waitingReason).toBeUndefined();
  });

  it.each([
    ["succeeded", 0, "success"],
    ["failed", 2, "failure"],
    ["timed_out", 143, "timed_out"],
    ["cancelled", 143, "cancelled"],
    ["error", undefined, "failure"],
  ] as const)("finishes %s → %s", (outcome, exitCode, conclusion) => {
    const r = applyObservation(fakeRecord({ phase: "in_progress", startedAt: at.toISOString() }), {
      runId: id,
      phase: "finished",
      outcome,
      finishedAt: end,
      ...(exitCode === undefined ? {} : { exitCode }),
    })!;
    expect(r).toMatchObject({ phase: "completed", conclusion, finishedAt: end.toISOString(), startedAt: at.toISOString() });
    expect(r.exitCode).toBe(exitCode);
  });

  it("reports an interrupted run as a failure saying the runner restarted", () => {
    const r = applyObservation(fakeRecord({ phase: "in_progress", startedAt: at.toISOString() }), {
      runId: id,
      phase: "finished",
      outcome: "interrupted",
      finishedAt: end,
    })!;
    expect(r).toMatchObject({ conclusion: "failure", message: INTERRUPTED_MESSAGE });
  });

  it("remembers the pod a run is in", () => {
    const r = applyObservation(fakeRecord(), { runId: id, phase: "running", startedAt: at, podName: "yaci-x-abc12" })!;
    expect(r.podName).toBe("yaci-x-abc12");
  });

  it("ignores everything after completion: the first result wins", () => {
    const done = fakeRecord({ phase: "completed", conclusion: "success", finishedAt: end.toISOString() });
    expect(applyObservation(done, { runId: id, phase: "finished", outcome: "failed", finishedAt: end, exitCode: 1 })).toBeNull();
    expect(applyObservation(done, { runId: id, phase: "running", startedAt: at })).toBeNull();
  });
});
