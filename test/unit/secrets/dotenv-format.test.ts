import { describe, expect, it } from "vitest";
import { formatDotenv, parseDotenv } from "../../../src/secrets/local-store.js";

describe("the secret store's dotenv files", () => {
  it("round-trips any value: newlines, quotes, backslashes, #, $, unicode, control characters", () => {
    const values = new Map([
      ["PLAIN", "abc123"],
      ["MULTI", "-----BEGIN KEY-----\nline 2\r\nline \"3\" \\n not a newline\n-----END KEY-----\n"],
      ["TRICKY", " leading and trailing spaces # not a comment $HOME ${X} 'q' \t tab \u0001 é 😀 "],
      ["EMPTY", ""],
    ]);
    expect(parseDotenv(formatDotenv(values))).toEqual(values);
  });

  it("reads hand-written files: comments, export, unquoted, single and double quotes over lines", () => {
    const text = `# comment\n\nexport A=plain value # a comment\nB='single $NOT \\n literal'\nC="two\nlines"\nD = spaced\n`;
    expect(Object.fromEntries(parseDotenv(text))).toEqual({ A: "plain value", B: "single $NOT \\n literal", C: "two\nlines", D: "spaced" });
  });

  it("refuses a broken file, naming the line and never the value", () => {
    expect(() => parseDotenv('A=1\nB="unterminated-secret-value\n', "f.env")).toThrow(/^f\.env, line 2: the value of B has no closing "$/);
    expect(() => parseDotenv("A=1\n1BAD=x\n", "f.env")).toThrow(/line 2: "1BAD" is not a valid variable name/);
    expect(() => parseDotenv('A="x" trailing-secret\n', "f.env")).toThrow(/line 1: unexpected text after the quoted value of A$/);
    expect(() => parseDotenv("just words\n", "f.env")).toThrow(/line 1: expected NAME=value/);
  });
});
