import { describe, expect, it } from "vitest";
import { formatConfigErrors } from "../../../src/config/format-config-errors.js";
import { inlineCode } from "../../../src/config/messages.js";
import { parseConfig } from "../../../src/config/parse-config.js";
import type { ConfigError } from "../../../src/config/yaci-config.js";

const source = ["image: node:22", "timeout: 15 minutes", "run: npm test", ""].join("\n");

describe("formatConfigErrors", () => {
  it("quotes the line with a caret under the column, and the hint", () => {
    const errors: ConfigError[] = [
      { line: 2, column: 10, message: "`timeout` must be a duration like 15m, got `15 minutes`", hint: "Write `15m`." },
    ];
    expect(formatConfigErrors(errors, source)).toBe(
      [
        "1 problem in `.yaci.yml`:",
        "",
        "line 2, column 10: `timeout` must be a duration like 15m, got `15 minutes`",
        "```yaml",
        "timeout: 15 minutes",
        "         ^",
        "```",
        "How to fix: Write `15m`.",
      ].join("\n"),
    );
  });

  it("renders every error in order, and names the file", () => {
    const errors: ConfigError[] = [
      { line: 1, column: 1, message: "first", hint: "Fix one." },
      { line: 3, column: 6, message: "second" },
    ];
    const md = formatConfigErrors(errors, source, { fileName: ".github/yaci.yml" });
    expect(md.startsWith("2 problems in `.github/yaci.yml`:\n")).toBe(true);
    expect(md.indexOf("line 1, column 1: first")).toBeLessThan(md.indexOf("line 3, column 6: second"));
    expect(md).toContain("```yaml\nimage: node:22\n^\n```\nHow to fix: Fix one.");
    // No hint → no "How to fix" line for that error.
    expect(md.endsWith("```yaml\nrun: npm test\n     ^\n```")).toBe(true);
  });

  it("keeps tabs before the column so the caret lines up", () => {
    const md = formatConfigErrors([{ line: 1, column: 5, message: "m" }], "a:\t\tb\n");
    expect(md).toContain("```yaml\na:\t\tb\n  \t\t^\n```");
  });

  it("uses a longer fence when the line contains backticks", () => {
    const md = formatConfigErrors([{ line: 1, column: 6, message: "m" }], "run: ```x```\n");
    expect(md).toContain("````yaml\nrun: ```x```\n     ^\n````");
  });

  it("windows very long lines around the column", () => {
    const line = `run: ${"a".repeat(300)}X${"b".repeat(300)}`;
    const md = formatConfigErrors([{ line: 1, column: 306, message: "m" }], line);
    const [quoted, caret] = md.split("```yaml\n")[1]!.split("\n");
    expect(quoted!.length).toBeLessThanOrEqual(162);
    expect(quoted!.startsWith("…")).toBe(true);
    expect(quoted!.endsWith("…")).toBe(true);
    expect(quoted![caret!.indexOf("^")]).toBe("X");
  });

  it("skips the code block when the line does not exist", () => {
    const md = formatConfigErrors([{ line: 9, column: 1, message: "m", hint: "h" }], "run: x\n");
    expect(md).toBe("1 problem in `.yaci.yml`:\n\nline 9, column 1: m\nHow to fix: h");
  });

  it("handles CRLF sources", () => {
    const md = formatConfigErrors([{ line: 2, column: 3, message: "m" }], "a: 1\r\nb: 2\r\n");
    expect(md).toContain("```yaml\nb: 2\n  ^\n```");
  });

  it("stays within GitHub's 65,535-character limit and counts what it left out", () => {
    const many: ConfigError[] = Array.from({ length: 80 }, (_, i) => ({ line: 1, column: 1, message: `problem ${i} ${"x".repeat(2000)}`, hint: "h" }));
    const md = formatConfigErrors(many, "run: x\n");
    expect(md.length).toBeLessThanOrEqual(65_535);
    expect(md).toMatch(/…and \d+ more problems not shown\.$/);
    const capped = formatConfigErrors(many.slice(0, 3), "run: x\n", { maxErrors: 2 });
    expect(capped).toContain("…and 1 more problem not shown.");
    expect(capped.match(/^line 1, column 1:/gm)).toHaveLength(2);
  });

  it("formats real parse errors end to end", () => {
    const text = "jobs:\n  test:\n    run: npm test\n    timout: 5m\n";
    const r = parseConfig(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(formatConfigErrors(r.errors, text)).toBe(
      [
        "1 problem in `.yaci.yml`:",
        "",
        "line 4, column 5: unknown key `timout` in job `test`",
        "```yaml",
        "    timout: 5m",
        "    ^",
        "```",
        "How to fix: Did you mean `timeout`?",
      ].join("\n"),
    );
  });
});

describe("inlineCode", () => {
  it.each([
    ["abc", "`abc`"],
    ["a`b", "``a`b``"],
    ["`a", "`` `a ``"],
    ["", "` `"],
    ["a\nb", "`a⏎b`"],
  ])("%j → %j", (text, expected) => {
    expect(inlineCode(text)).toBe(expected);
  });
});
