import { describe, expect, it } from "vitest";
import { formatDuration } from "../../../src/core/format-duration.js";

describe("formatDuration", () => {
  it.each([
    [0, "0s"],
    [400, "0.4s"],
    [2_000, "2s"],
    [9_949, "9.9s"],
    [9_950, "10s"],
    [12_400, "12s"],
    [65_000, "1m 5s"],
    [300_000, "5m"],
    [3_600_000, "1h"],
    [3_723_000, "1h 2m"],
  ])("%i ms → %s", (ms, text) => expect(formatDuration(ms)).toBe(text));
});
