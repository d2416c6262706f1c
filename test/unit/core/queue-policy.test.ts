import { describe, expect, it } from "vitest";
import {
  admissions,
  describePosition,
  nextToStart,
  queueOrder,
  queuePositions,
  shouldRefreshPosition,
  type QueueLimits,
  type QueuedRun,
  type RunningRun,
} from "../../../src/core/queue-policy.js";

/** `q("A", "a/x", 3)`: a run of installation A, repository a/x, accepted at t=3. */
function q(installation: string, repository: string, acceptedAt: number, id = `${installation}-${repository}-${acceptedAt}`): QueuedRun {
  return { id, installation, repository, acceptedAt };
}
const run = (installation: string, repository = `${installation.toLowerCase()}/r`): RunningRun => ({ installation, repository });

/** A push of `n` jobs of one repository, accepted one ms apart from `t0`. */
function flood(installation: string, repository: string, n: number, t0 = 0): QueuedRun[] {
  return Array.from({ length: n }, (_, i) => q(installation, repository, t0 + i, `${installation}${i}`));
}

const ids = (runs: QueuedRun[]) => runs.map((r) => r.id);

describe("queue policy: who starts next", () => {
  const cases: { name: string; queued: QueuedRun[]; running: RunningRun[]; limits: QueueLimits; starts: string[] }[] = [
    { name: "an empty queue starts nothing", queued: [], running: [], limits: { maxRunning: 2 }, starts: [] },
    {
      name: "one installation alone: first come, first served, up to the limit",
      queued: flood("A", "a/r", 5),
      running: [],
      limits: { maxRunning: 2 },
      starts: ["A0", "A1"],
    },
    {
      name: "a flood does not hold back a later installation: B (0 running) goes before A's third job",
      queued: [...flood("A", "a/r", 22, 0), q("B", "b/r", 100, "B0")],
      running: [run("A"), run("A")],
      limits: { maxRunning: 3 },
      starts: ["B0"],
    },
    {
      name: "when slots free up, the installations alternate",
      queued: [...flood("A", "a/r", 4, 0), ...flood("B", "b/r", 4, 50)],
      running: [],
      limits: { maxRunning: 4 },
      starts: ["A0", "B0", "A1", "B1"],
    },
    {
      name: "tie on running jobs: the installation whose oldest waiting job is older goes first",
      queued: [q("A", "a/r", 20, "A-late"), q("B", "b/r", 10, "B-early")],
      running: [run("A"), run("B")],
      limits: { maxRunning: 3 },
      starts: ["B-early"],
    },
    {
      name: "same accept time: broken by id, so every replica decides the same",
      queued: [q("B", "b/r", 5, "y"), q("A", "a/r", 5, "x")],
      running: [],
      limits: { maxRunning: 1 },
      starts: ["x"],
    },
    {
      name: "within an installation, repositories take turns",
      queued: [...flood("A", "a/one", 3, 0).map((r) => ({ ...r, id: `one${r.acceptedAt}` })), q("A", "a/two", 10, "two0")],
      running: [],
      limits: { maxRunning: 2 },
      starts: ["one0", "two0"],
    },
    {
      name: "the repository with fewer running jobs goes first",
      queued: [q("A", "a/one", 1, "one"), q("A", "a/two", 2, "two")],
      running: [run("A", "a/one")],
      limits: { maxRunning: 2 },
      starts: ["two"],
    },
    {
      name: "the global limit counts what already runs",
      queued: flood("A", "a/r", 3),
      running: [run("B"), run("C")],
      limits: { maxRunning: 2 },
      starts: [],
    },
    {
      name: "the per-installation cap: A gets one more (to its cap of 2), B starts, the rest of A waits",
      queued: [...flood("A", "a/r", 5), q("B", "b/r", 9, "B0")],
      running: [run("A")],
      limits: { maxRunning: 10, maxRunningPerInstallation: 2 },
      starts: ["B0", "A0"],
    },
    {
      name: "a capped installation keeps its place; the others go on",
      queued: [...flood("A", "a/r", 3), ...flood("B", "b/r", 3, 10)],
      running: [run("A"), run("A")],
      limits: { maxRunning: 10, maxRunningPerInstallation: 2 },
      starts: ["B0", "B1"],
    },
    {
      name: "no limits at all: everything starts, fairly interleaved",
      queued: [...flood("A", "a/r", 2), ...flood("B", "b/r", 2, 10)],
      running: [],
      limits: {},
      starts: ["A0", "B0", "A1", "B1"],
    },
  ];

  it.each(cases)("$name", ({ queued, running, limits, starts }) => {
    expect(ids(admissions(queued, running, limits))).toEqual(starts);
    expect(nextToStart(queued, running, limits)?.id).toBe(starts[0]);
  });

  it("acceptance shape: A's 24 jobs with 2 slots, B's job a moment later starts before A's third", () => {
    let queued = flood("A", "a/r", 24);
    let running: RunningRun[] = [];
    const order: string[] = [];
    const startNext = () => {
      for (const r of admissions(queued, running, { maxRunning: 2 })) {
        order.push(r.id);
        running.push(r);
        queued = queued.filter((x) => x !== r);
      }
    };
    startNext(); // A0, A1
    queued.push(q("B", "b/r", 100, "B0"));
    running = running.slice(1); // A0 ends
    startNext();
    expect(order.slice(0, 3)).toEqual(["A0", "A1", "B0"]);
    while (queued.length > 0) {
      running = running.slice(1);
      startNext();
    }
    expect(order.filter((id) => id.startsWith("A"))).toEqual(ids(flood("A", "a/r", 24))); // each once, in order
  });

  it("a cancelled run simply leaves the queue: the one behind it moves up", () => {
    const queued = [...flood("A", "a/r", 3), q("B", "b/r", 9, "B0")];
    const before = queuePositions(queued, [run("A")]);
    expect(before.get("A2")).toEqual({ ahead: 3, aheadSameInstallation: 2 });
    const after = queuePositions(queued.filter((r) => r.id !== "A1"), [run("A")]);
    expect(after.get("A2")).toEqual({ ahead: 2, aheadSameInstallation: 1 });
    expect(after.has("A1")).toBe(false);
  });

  it("a flood of 10,000 runs over 50 installations is ordered fast enough to run on every change", () => {
    const queued = Array.from({ length: 10_000 }, (_, i) => q(`I${i % 50}`, `r${i % 7}`, i, `j${i}`));
    const order = queueOrder(queued, []);
    expect(order).toHaveLength(10_000);
    expect(new Set(ids(order)).size).toBe(10_000);
    // The first 50 to start are one per installation.
    expect(new Set(order.slice(0, 50).map((r) => r.installation)).size).toBe(50);
  });
});

describe("queue positions", () => {
  it("counts the runs ahead and those of the run's own installation", () => {
    const queued = [...flood("A", "a/r", 6), q("B", "b/r", 10, "B0"), q("B", "b/r", 11, "B1")];
    const positions = queuePositions(queued, [run("A"), run("A")]);
    // B has nothing running: its jobs go first, then A's, fairly interleaved with B's second.
    expect(ids(queueOrder(queued, [run("A"), run("A")]))).toEqual(["B0", "B1", "A0", "A1", "A2", "A3", "A4", "A5"]);
    expect(positions.get("B0")).toEqual({ ahead: 0, aheadSameInstallation: 0 });
    expect(positions.get("A5")).toEqual({ ahead: 7, aheadSameInstallation: 5 });
  });

  it.each([
    { p: { ahead: 7, aheadSameInstallation: 5 }, text: "Waiting for a runner: 7 jobs ahead (5 from acme)" },
    { p: { ahead: 1, aheadSameInstallation: 0 }, text: "Waiting for a runner: 1 job ahead" },
    { p: { ahead: 0, aheadSameInstallation: 0 }, text: "Waiting for a runner: next in line" },
  ])("says $text", ({ p, text }) => {
    expect(describePosition(p, "acme")).toBe(text);
  });

  it.each([
    { name: "the first position is always shown", shown: undefined, next: 40, since: 0, refresh: true },
    { name: "unchanged: no write", shown: 40, next: 40, since: 600_000, refresh: false },
    { name: "halved but within the minute: not yet", shown: 40, next: 20, since: 30_000, refresh: false },
    { name: "a minute passed but it moved less than half: not yet", shown: 40, next: 25, since: 120_000, refresh: false },
    { name: "halved and a minute passed: shown", shown: 40, next: 20, since: 60_000, refresh: true },
    { name: "grew by half (others cut in) after a minute: shown", shown: 10, next: 15, since: 61_000, refresh: true },
    { name: "from 1 to 0 after a minute: shown", shown: 1, next: 0, since: 60_000, refresh: true },
  ])("refresh: $name", ({ shown, next, since, refresh }) => {
    const pos = (ahead: number) => ({ ahead, aheadSameInstallation: 0 });
    expect(shouldRefreshPosition(shown === undefined ? undefined : pos(shown), pos(next), since)).toBe(refresh);
  });
});
