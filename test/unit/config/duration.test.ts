import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration, tryParseDuration } from "../../../src/config/duration.js";

describe("parseDuration", () => {
  it.each([
    ["1s", 1_000],
    ["90s", 90_000],
    ["15m", 900_000],
    ["1h", 3_600_000],
    ["6h", 21_600_000],
    ["1h30m", 5_400_000],
    ["2m30s", 150_000],
    ["1h1m1s", 3_661_000],
    ["1.5h", 5_400_000],
    ["0.5s", 500],
    ["1h 30m", 5_400_000],
    [" 10m ", 600_000],
    ["5h59m59s", 21_599_000],
  ])("%j → %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ["", "must be a duration like 15m"],
    ["15", "must be a duration like 15m"],
    ["15 minutes", "must be a duration like 15m"],
    ["15M", "must be a duration like 15m"],
    ["30m1h", "must be a duration like 15m"],
    ["1h1h", "must be a duration like 15m"],
    ["-5m", "must be a duration like 15m"],
    ["m", "must be a duration like 15m"],
    ["100ms", "must be a duration like 15m"],
    ["0s", "must be longer than 0"],
    ["0h0m", "must be longer than 0"],
    ["6h1s", "must be at most 6h"],
    ["7h", "must be at most 6h"],
    ["1d", "must be a duration like 15m"],
  ])("rejects %j", (text, message) => {
    const r = tryParseDuration(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toContain(message);
    expect(() => parseDuration(text)).toThrow(RangeError);
  });

  it.each([
    ["15", "Add a unit: `15m` for minutes (or `15s`, `15h`)."],
    ["15 minutes", "Write `15m`."],
    ["2hours", "Write `2h`."],
    ["30 sec", "Write `30s`."],
    ["15M", "Write `15m`."],
    ["100ms", "Milliseconds are not supported: use s, m or h, e.g. `30s`."],
    ["2d", "Days and weeks are not supported: the longest timeout is 6h."],
    ["soon", "Write a number followed by s, m or h, e.g. `90s`, `15m` or `1h30m`."],
  ])("hint for %j", (text, hint) => {
    const r = tryParseDuration(text);
    expect(r).toMatchObject({ ok: false, hint });
  });

  it("takes a custom maximum", () => {
    expect(parseDuration("10h", 24 * 3_600_000)).toBe(36_000_000);
    expect(tryParseDuration("2m", 60_000)).toMatchObject({ ok: false, message: "must be at most 1m, got `2m`" });
  });

  it("formats durations back", () => {
    expect(formatDuration(5_400_000)).toBe("1h30m");
    expect(formatDuration(21_600_000)).toBe("6h");
    expect(formatDuration(61_000)).toBe("1m1s");
    expect(formatDuration(0)).toBe("0s");
  });
});
