import { mkdtempSync, rmSync, utimesSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LogStore } from "../../src/logs/log-store.js";
import {
  DEFAULT_LOG_RETENTION_MS,
  logRetentionFromEnv,
  startLogRetention,
} from "../../src/logs/retention.js";
import type { Intervals } from "../../src/clock.js";
import { parseEnvDuration } from "../../src/env-duration.js";

const DAY = 86_400_000;
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A timer the test fires by hand. */
function manualTimer() {
  const timers = new Map<number, { fn: () => void; ms: number }>();
  let next = 1;
  const timer: Intervals = {
    setInterval(fn, ms) {
      const id = next++;
      timers.set(id, { fn, ms });
      return id;
    },
    clearInterval(h) {
      timers.delete(h as number);
    },
  };
  return { timer, timers };
}

async function age(logs: LogStore, runId: string, text: string, writtenAt: Date) {
  await logs.write(runId, text);
  utimesSync(logs.path(runId), writtenAt, writtenAt);
}

describe("log retention", () => {
  it("deletes logs last written before now − retention, at start and on every tick, until stopped", async () => {
    dir = mkdtempSync(join(tmpdir(), "yaci-retention-"));
    const logs = new LogStore(dir);
    const clock = { now: new Date("2025-06-15T00:00:00Z") };
    await age(logs, "run-old", "old\n", new Date(clock.now.getTime() - 15 * DAY));
    await age(logs, "run-recent", "recent\n", new Date(clock.now.getTime() - 13 * DAY));
    const pruned: string[][] = [];
    const { timer, timers } = manualTimer();

    const retention = startLogRetention({
      logs,
      retentionMs: 14 * DAY,
      now: () => clock.now,
      intervalMs: 3_600_000,
      timer,
      onPruned: (ids) => {
        pruned.push(ids);
      },
    });
    expect(await retention.runOnce()).toEqual(["run-old"]); // joins the start-up pass
    expect(await retention.runOnce()).toEqual([]); // nothing left to delete
    expect(pruned).toEqual([["run-old"]]);
    expect(existsSync(logs.path("run-old"))).toBe(false);
    expect(existsSync(logs.path("run-recent"))).toBe(true);
    expect([...timers.values()].map((t) => t.ms)).toEqual([3_600_000]);

    // Two days later the recent log is past retention; the next tick removes it.
    clock.now = new Date(clock.now.getTime() + 2 * DAY);
    await age(logs, "run-new", "new\n", clock.now);
    [...timers.values()][0]!.fn();
    await retention.runOnce(); // joins the pass the tick started
    expect(pruned).toEqual([["run-old"], ["run-recent"]]);
    expect(existsSync(logs.path("run-recent"))).toBe(false);
    expect(await logs.readFrom("run-new", 0)).toEqual(Buffer.from("new\n"));

    retention.stop();
    expect(timers.size).toBe(0);
  });

  it("logs a failing pass instead of throwing from the timer", async () => {
    const errors: unknown[] = [];
    const { timer } = manualTimer();
    const retention = startLogRetention({
      logs: {
        prune: async () => {
          throw new Error("disk gone");
        },
      },
      retentionMs: DAY,
      timer,
      log: { info: () => {}, error: (obj) => errors.push(obj) },
    });
    await expect(retention.runOnce()).rejects.toThrow("disk gone");
    await new Promise((r) => setTimeout(r, 10));
    expect(errors.length).toBeGreaterThanOrEqual(1);
    retention.stop();
  });
});

describe("YACI_LOG_RETENTION", () => {
  it("parses durations", () => {
    expect(parseEnvDuration("duration", "14d")).toBe(14 * DAY);
    expect(parseEnvDuration("duration", "36h")).toBe(36 * 3_600_000);
    expect(parseEnvDuration("duration", "90m")).toBe(90 * 60_000);
    expect(parseEnvDuration("duration", "30s")).toBe(30_000);
    expect(parseEnvDuration("duration", "1w")).toBe(7 * DAY);
    expect(parseEnvDuration("duration", "1d12h")).toBe(36 * 3_600_000);
    expect(parseEnvDuration("duration", " 1.5h ")).toBe(90 * 60_000);
    for (const bad of ["", "14", "d", "14 days", "-1d", "0d", "1y"]) expect(() => parseEnvDuration("X", bad)).toThrow(/^X: /);
  });

  it("defaults to 14 days", () => {
    expect(DEFAULT_LOG_RETENTION_MS).toBe(14 * DAY);
    expect(logRetentionFromEnv({})).toBe(14 * DAY);
    expect(logRetentionFromEnv({ YACI_LOG_RETENTION: "" })).toBe(14 * DAY);
    expect(logRetentionFromEnv({ YACI_LOG_RETENTION: "36h" })).toBe(36 * 3_600_000);
  });
});
