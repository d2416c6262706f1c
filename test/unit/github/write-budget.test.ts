import { describe, expect, it } from "vitest";
import { isWriteSkipped, parseWriteWindows, WRITE_WINDOWS, WriteBudget } from "../../../src/github/octokit.js";

function clocked(windows = [{ limit: 3, ms: 60_000 }]) {
  let t = 1_000_000;
  const sleeps: number[] = [];
  const budget = new WriteBudget(windows, () => t, async (ms) => {
    sleeps.push(ms);
    t += ms;
  });
  return { budget, sleeps, at: () => t, advance: (ms: number) => (t += ms) };
}

describe("WriteBudget", () => {
  it("lets a burst through at once, up to the window's limit", async () => {
    const { budget, sleeps } = clocked();
    const out: number[] = [];
    await Promise.all([1, 2, 3].map((i) => budget.key("inst-1").schedule({}, async () => out.push(i))));
    expect(out).toEqual([1, 2, 3]);
    expect(sleeps).toEqual([]);
  });

  it("makes the next request wait until the oldest leaves the sliding window", async () => {
    const { budget, sleeps, advance, at } = clocked();
    const start = at();
    for (let i = 0; i < 3; i++) {
      await budget.key("inst-1").schedule({}, async () => i);
      advance(10_000);
    }
    await budget.key("inst-1").schedule({}, async () => 4);
    expect(sleeps).toEqual([30_001]); // the first went out at `start`, so room again at start + 60 s
    expect(at()).toBe(start + 60_001);
  });

  it("keeps installations apart", async () => {
    const { budget, sleeps } = clocked();
    for (let i = 0; i < 3; i++) await budget.key("inst-1").schedule({}, async () => i);
    for (let i = 0; i < 3; i++) await budget.key("inst-2").schedule({}, async () => i);
    expect(sleeps).toEqual([]);
  });

  it("honours every window (e.g. 500 an hour as well as 80 a minute)", () => {
    const { budget } = clocked([
      { limit: 80, ms: 60_000 },
      { limit: 2, ms: 3_600_000 },
    ]);
    expect(budget.delayFor("x")).toBe(0);
    void budget.key("x").schedule({}, async () => 0);
    void budget.key("x").schedule({}, async () => 0);
    return new Promise<void>((r) => setTimeout(r, 0)).then(() => expect(budget.delayFor("x")).toBe(3_600_001));
  });

  it("keeps a reserve for final writes: intermediate ones get only the rest, and are refused (not queued) past it", async () => {
    const { budget, sleeps } = clocked([{ limit: 5, ms: 60_000, reserve: 3 }] as never);
    const sent: string[] = [];
    const write = (priority: "final" | "intermediate", name: string) =>
      budget.key("i").schedule({ priority }, async () => void sent.push(name));
    await write("intermediate", "q1");
    await write("intermediate", "q2");
    const refused = await write("intermediate", "q3").catch((e: unknown) => e);
    expect(isWriteSkipped(refused)).toBe(true);
    expect((refused as { retryInMs: number }).retryInMs).toBe(60_001);
    // The three kept for final writes go at once.
    await Promise.all([write("final", "f1"), write("final", "f2"), write("final", "f3")]);
    expect(sent).toEqual(["q1", "q2", "f1", "f2", "f3"]);
    expect(sleeps).toEqual([]);
    expect(budget.delayFor("i", "final")).toBe(60_001);
  });

  it("counts a write that is still unanswered as sent now, however long ago it left (GitHub may not have it yet)", async () => {
    const { budget, advance } = clocked([{ limit: 2, ms: 60_000 }]);
    let answer!: () => void;
    const slow = budget.key("inst-1").schedule({}, () => new Promise<void>((r) => (answer = r)));
    await budget.key("inst-1").schedule({}, async () => undefined);
    advance(90_000); // both left more than a window ago; the slow one is still on its way
    expect(budget.sentWithin("inst-1", 60_000)).toBe(1);
    await budget.key("inst-1").schedule({}, async () => undefined);
    expect(budget.delayFor("inst-1")).toBeGreaterThan(0); // the unanswered one and the new one fill the window
    answer();
    await slow;
    advance(59_000);
    expect(budget.delayFor("inst-1")).toBeGreaterThan(0); // it reached GitHub 59 s ago: still in the window
    advance(1_001);
    expect(budget.delayFor("inst-1")).toBe(0);
  });

  it("GitHub's windows keep 50 of 80 a minute and 300 of 500 an hour for final writes", () => {
    expect(WRITE_WINDOWS.map((w) => [w.limit, w.ms, w.reserve])).toEqual([
      [80, 60_000, 50],
      [500, 3_600_000, 300],
    ]);
  });

  it("YACI_WRITE_BUDGET: LIMIT/DURATION[:RESERVE], comma-separated; a mistake is a clear error", () => {
    expect(parseWriteWindows(undefined)).toEqual(WRITE_WINDOWS.map((w) => ({ ...w })));
    expect(parseWriteWindows("80/10s:50, 500/5m")).toEqual([
      { limit: 80, ms: 10_000, reserve: 50 },
      { limit: 500, ms: 300_000, reserve: 312 },
    ]);
    expect(() => parseWriteWindows("80 per minute")).toThrow(/YACI_WRITE_BUDGET: "80 per minute" is not LIMIT\/DURATION\[:RESERVE\]/);
    expect(() => parseWriteWindows("80/1m:80")).toThrow(/reserve must be below the limit/);
  });
});
