import { describe, expect, it } from "vitest";
import { parseCommands } from "../../../src/core/parse-commands.js";

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
