import { describe, expect, it } from "vitest";
import { GITHUB_OUTPUT_LIMIT, logExcerpt } from "../../../src/logs/excerpt.js";

const tail = (text: string, omittedBytes = 0) => ({ text, omittedBytes, totalBytes: omittedBytes + Buffer.byteLength(text) });

describe("logExcerpt", () => {
  it("puts the log in a fenced block with ANSI escapes stripped", () => {
    expect(logExcerpt(tail("\u001b[32mok\u001b[0m great success\n"))).toBe("```text\nok great success\n```\n");
  });

  it("says when the job printed nothing", () => {
    expect(logExcerpt(tail(""))).toBe("_The job printed nothing._");
  });

  it("uses a longer fence when the log contains one", () => {
    expect(logExcerpt(tail("a\n```\nb\n"))).toBe("````text\na\n```\nb\n````\n");
  });

  it.each([
    ["ASCII", "x".repeat(99) + "\n", 2_000],
    ["multi-byte", "é✓😀 line\n", 20_000],
  ])("keeps the end of a %s log within GitHub's 65,535 limit and counts what it left out", (_n, line, times) => {
    const log = Array.from({ length: times }, (_, i) => `${i} ${line}`).join("") + "THE END\n";
    const out = logExcerpt(tail(log, 1234));
    expect(out.length).toBeLessThanOrEqual(GITHUB_OUTPUT_LIMIT);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(GITHUB_OUTPUT_LIMIT);
    expect(Buffer.byteLength(out)).toBeGreaterThan(GITHUB_OUTPUT_LIMIT - 200);
    expect(out).toMatch(/THE END\n```\n$/);
    const omitted = Number(/_([\d,]+) bytes of the log's start were left out/.exec(out)![1]!.replace(/,/g, ""));
    const shown = /```text\n([\s\S]*)```\n$/.exec(out)![1]!;
    expect(omitted + Buffer.byteLength(shown)).toBe(1234 + Buffer.byteLength(log));
    expect(shown).not.toContain("\uFFFD"); // never cut inside a character
  });

  it("masks secrets when asked", () => {
    expect(logExcerpt(tail("token ghs_secret here\n"), { redact: (s) => s.replaceAll("ghs_secret", "***") })).toContain("token *** here");
  });
});

describe("logExcerpt and backticks", () => {
  it("a log of 70,000 backticks fits GitHub's limit (indented, not fenced) and keeps its end", () => {
    const out = logExcerpt(tail("`".repeat(70_000) + "\nTHE END\n"));
    expect(out.length).toBeLessThanOrEqual(GITHUB_OUTPUT_LIMIT);
    expect(out).toMatch(/^_[\d,]+ bytes of the log's start were left out/);
    expect(out).toMatch(/\n    `+\n    THE END\n$/);
  });

  it("a log of many different backtick runs fits, every line indented", () => {
    const log = Array.from({ length: 3_000 }, (_, i) => `${"`".repeat(1 + (i % 40))} step ${i}\n`).join("");
    const out = logExcerpt(tail(log));
    expect(out.length).toBeLessThanOrEqual(GITHUB_OUTPUT_LIMIT);
    const body = out.replace(/^_[^\n]*\n\n/, "");
    expect(body.split("\n").slice(0, -1).every((l) => l.startsWith("    "))).toBe(true);
    expect(body).toContain("    ```````````````````````````````````````` step 2999\n");
  });

  it("a log of nothing but newlines still shows as much as fits", () => {
    const out = logExcerpt(tail("``````````\n" + "\n".repeat(100_000)));
    expect(out.length).toBeLessThanOrEqual(GITHUB_OUTPUT_LIMIT);
    expect(out.length).toBeGreaterThan(GITHUB_OUTPUT_LIMIT - 1_000);
  });

  it("short backtick runs keep a fence one longer than the longest", () => {
    expect(logExcerpt(tail("a ````` b\n"))).toBe("``````text\na ````` b\n``````\n");
  });
});
