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

describe("branchMatches never backtracks", () => {
  /** The former implementation (a RegExp), as an oracle on short inputs. */
  function oracle(pattern: string, branch: string): boolean {
    let src = "";
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern[i]!;
      if (c === "*") {
        if (pattern[i + 1] === "*") {
          src += ".*";
          while (pattern[i + 1] === "*") i++;
        } else src += "[^/]*";
      } else src += c.replace(/[.+?^${}()|[\]\\/-]/g, "\\$&");
    }
    return new RegExp(`^${src}$`, "s").test(branch);
  }

  it("agrees with the RegExp semantics on 5,000 random short patterns and names", () => {
    let seed = 42;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const pick = (alphabet: string, max: number) => Array.from({ length: rand(max) }, () => alphabet[rand(alphabet.length)]).join("");
    for (let i = 0; i < 5000; i++) {
      const pattern = pick("ab/*.", 8);
      const branch = pick("ab/.", 8);
      expect(branchMatches(pattern, branch), `${pattern} vs ${branch}`).toBe(oracle(pattern, branch));
    }
  });

  it("answers the catastrophic cases of a backtracking matcher", () => {
    expect(branchMatches("*a*a*a*a*a*a*a*a!", "a".repeat(40))).toBe(false);
    expect(branchMatches("**a**a**a**a**a**a**a**a!", `${"a/".repeat(120)}a`)).toBe(false);
    expect(branchMatches(`${"*a".repeat(127)}!`, "a".repeat(255))).toBe(false);
    expect(branchMatches(`${"*a".repeat(127)}`, "a".repeat(255))).toBe(true);
  });
});
