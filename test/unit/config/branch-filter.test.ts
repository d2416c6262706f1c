import { describe, expect, it } from "vitest";
import { branchMatches, eventAllowsBranch } from "../../../src/config/branch-filter.js";

describe("branchMatches", () => {
  it.each([
    ["main", "main", true],
    ["main", "main2", false],
    ["main", "xmain", false],
    ["release/*", "release/1.2", true],
    ["release/*", "release/", true],
    ["release/*", "release/1.2/hotfix", false],
    ["release/*", "release", false],
    ["release/**", "release/1.2/hotfix", true],
    ["release/**", "release/1.2", true],
    ["**", "feature/a/b", true],
    ["*", "main", true],
    ["*", "feature/x", false],
    ["feature/*-fix", "feature/login-fix", true],
    ["feature/*-fix", "feature/login-fix2", false],
    ["*/fix", "team/fix", true],
    ["**/fix", "a/b/fix", true],
    ["**/fix", "fix", false],
    ["v1.*", "v1.2", true],
    ["v1.*", "v1x2", false], // `.` is literal, not "any character"
    ["dep+bump", "dep+bump", true],
    ["dep+bump", "deppbump", false],
    ["(a|b)", "a", false],
    ["(a|b)", "(a|b)", true],
    ["[ab]", "a", false],
  ] as const)("%j vs %j → %s", (pattern, branch, expected) => {
    expect(branchMatches(pattern, branch)).toBe(expected);
  });
});

describe("eventAllowsBranch", () => {
  it("is false when the event is not listed", () => {
    expect(eventAllowsBranch(undefined, "main")).toBe(false);
  });

  it("is true for every branch without a branches list", () => {
    expect(eventAllowsBranch({}, "main")).toBe(true);
    expect(eventAllowsBranch({}, "any/thing")).toBe(true);
  });

  it("matches any of the patterns", () => {
    const filter = { branches: ["main", "release/*"] };
    expect(eventAllowsBranch(filter, "main")).toBe(true);
    expect(eventAllowsBranch(filter, "release/2.0")).toBe(true);
    expect(eventAllowsBranch(filter, "feature/x")).toBe(false);
  });

  it("accepts a full ref name", () => {
    expect(eventAllowsBranch({ branches: ["main"] }, "refs/heads/main")).toBe(true);
    expect(eventAllowsBranch({ branches: ["main"] }, "refs/heads/other")).toBe(false);
  });
});
