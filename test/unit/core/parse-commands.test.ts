import { describe, expect, it } from "vitest";
import { MAX_COMMAND_LINES, parseCommands } from "../../../src/core/parse-commands.js";

describe("parseCommands", () => {
  it.each([
    ["/retest", [{ name: "retest" }]],
    ["/retest lint", [{ name: "retest", arg: "lint" }]],
    ["  /RETEST  ", [{ name: "retest" }]],
    ["/cancel", [{ name: "cancel" }]],
    ["/ok-to-test", [{ name: "ok-to-test" }]],
    ["LGTM, thanks!\n/retest\n/cancel", [{ name: "retest" }, { name: "cancel" }]],
    ["/deploy prod", [{ unknown: "deploy" }]],
    ["see /usr/bin/env for details", []],
    ["> /retest\nquoted, not a command", []],
    ["```\n/retest\n```", []],
    ["no commands here", []],
  ])("%j", (body, expected) => {
    expect(parseCommands(body)).toEqual(expected);
  });
});

describe("parseCommands bounds", () => {
  it("reads at most 10 command lines", () => {
    const body = Array.from({ length: 5000 }, (_, i) => `/cmd${i}`).join("\n");
    expect(parseCommands(body)).toEqual(Array.from({ length: MAX_COMMAND_LINES }, (_, i) => ({ unknown: `cmd${i}` })));
  });

  it("cuts long names and arguments; ignores a line over 1,000 characters", () => {
    expect(parseCommands(`/${"x".repeat(500)}`)).toEqual([{ unknown: `${"x".repeat(32)}…` }]);
    expect(parseCommands(`/retest ${"j".repeat(500)}`)).toEqual([{ name: "retest", arg: "j".repeat(100) }]);
    expect(parseCommands(`/retest ${"j".repeat(1000)}`)).toEqual([]);
  });
});
