import { describe, expect, it } from "vitest";
import { WriteBudget } from "../../../src/github/octokit.js";

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
});
