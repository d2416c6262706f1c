import { describe, expect, it } from "vitest";
import { CONFIG_LIMITS } from "../../../src/config/config-limits.js";
import { CHECK_RUN_TEXT_LIMIT, formatConfigErrors } from "../../../src/config/format-config-errors.js";
import { parseConfig } from "../../../src/config/parse-config.js";
import { BAD_CONFIG_CASES } from "../../fixtures/bad-input/config/cases.js";

describe("hostile .yaci.yml files (test/fixtures/bad-input/config)", () => {
  it("has at least 80 cases, each named once", () => {
    expect(BAD_CONFIG_CASES.length).toBeGreaterThanOrEqual(80);
    expect(new Set(BAD_CONFIG_CASES.map((c) => c.name)).size).toBe(BAD_CONFIG_CASES.length);
  });

  it.each(BAD_CONFIG_CASES.map((c) => [c.name, c] as const))("%s", (_, c) => {
    const input = typeof c.input === "function" ? c.input() : c.input;
    const r = parseConfig(input);
    if (r.ok) throw new Error(`expected an error, the config parsed: ${JSON.stringify(r.config).slice(0, 200)}`);
    const [first] = r.errors;
    expect(first!.message).toContain(c.error);
    expect([first!.line, first!.column]).toEqual(c.at);
    // Every answer is bounded and clear: at most 20 errors, each with a position, a message and a hint.
    expect(r.errors.length).toBeLessThanOrEqual(CONFIG_LIMITS.errors);
    for (const e of r.errors) {
      expect(e.line).toBeGreaterThanOrEqual(1);
      expect(e.column).toBeGreaterThanOrEqual(1);
      expect(e.message.length).toBeLessThan(400);
      expect(e.hint).toBeTruthy();
      expect(e.message).not.toMatch(/\0/);
    }
    // …and fits a check run.
    const text = typeof input === "string" ? input : Buffer.from(input).toString("utf8");
    const summary = formatConfigErrors(r.errors, text.length <= CONFIG_LIMITS.fileBytes ? text : "", r.omitted ? { omitted: r.omitted } : {});
    expect(summary.length).toBeLessThanOrEqual(CHECK_RUN_TEXT_LIMIT);
    expect(summary).not.toMatch(/\0/);
  });
});
