import { describe, expect, it } from "vitest";
import { batchAnnotations, parseAnnotations, type Annotation } from "../../../src/logs/annotations.js";

const WS = "/home/runner/work/repo";
const log = (...lines: string[]) => lines.join("\n");

describe("parseAnnotations", () => {
  it("reads tsc's classic output, with continuation lines", () => {
    const out = log(
      "> tsc --noEmit",
      "src/app.ts(12,5): error TS2322: Type 'string' is not assignable to type 'number'.",
      "src/config/x.ts(3,10): error TS2345: Argument of type '{ a: string; }' is not assignable to parameter of type 'Opts'.",
      "  Object literal may only specify known properties, and 'a' does not exist in type 'Opts'.",
      "src/old.ts(1,1): warning TS6133: 'x' is declared but its value is never read.",
      "Found 3 errors in 3 files.",
    );
    expect(parseAnnotations(out, {})).toEqual<Annotation[]>([
      {
        path: "src/app.ts",
        start_line: 12,
        end_line: 12,
        start_column: 5,
        end_column: 5,
        annotation_level: "failure",
        message: "Type 'string' is not assignable to type 'number'.",
        title: "TS2322",
      },
      {
        path: "src/config/x.ts",
        start_line: 3,
        end_line: 3,
        start_column: 10,
        end_column: 10,
        annotation_level: "failure",
        message:
          "Argument of type '{ a: string; }' is not assignable to parameter of type 'Opts'.\nObject literal may only specify known properties, and 'a' does not exist in type 'Opts'.",
        title: "TS2345",
      },
      {
        path: "src/old.ts",
        start_line: 1,
        end_line: 1,
        start_column: 1,
        end_column: 1,
        annotation_level: "warning",
        message: "'x' is declared but its value is never read.",
        title: "TS6133",
      },
    ]);
  });

  it("reads tsc's pretty output, colours included", () => {
    const out = log(
      "\u001b[96msrc/index.ts\u001b[0m:\u001b[93m7\u001b[0m:\u001b[93m3\u001b[0m - \u001b[91merror\u001b[0m\u001b[90m TS2304: \u001b[0mCannot find name 'foo'.",
      "",
      "\u001b[7m7\u001b[0m   foo();",
      "\u001b[7m \u001b[0m \u001b[91m  ~~~\u001b[0m",
      "",
      "",
      "Found 1 error in src/index.ts\u001b[90m:7\u001b[0m",
    );
    expect(parseAnnotations(out, {})).toEqual([
      {
        path: "src/index.ts",
        start_line: 7,
        end_line: 7,
        start_column: 3,
        end_column: 3,
        annotation_level: "failure",
        message: "Cannot find name 'foo'.",
        title: "TS2304",
      },
    ]);
  });

  it("reads ESLint's unix format and makes paths relative to the workspace", () => {
    const out = log(
      `${WS}/src/util.js:3:7: 'unused' is assigned a value but never used. [Error/no-unused-vars]`,
      `${WS}/src/util.js:10:1: Unexpected console statement. [Warning/no-console]`,
      `${WS}/lib/parse.js:1:1: Parsing error: Unexpected token < [Error]`,
      "",
      "3 problems",
    );
    expect(parseAnnotations(out, { workspace: WS })).toEqual([
      {
        path: "src/util.js",
        start_line: 3,
        end_line: 3,
        start_column: 7,
        end_column: 7,
        annotation_level: "failure",
        message: "'unused' is assigned a value but never used.",
        title: "no-unused-vars",
      },
      {
        path: "src/util.js",
        start_line: 10,
        end_line: 10,
        start_column: 1,
        end_column: 1,
        annotation_level: "warning",
        message: "Unexpected console statement.",
        title: "no-console",
      },
      {
        path: "lib/parse.js",
        start_line: 1,
        end_line: 1,
        start_column: 1,
        end_column: 1,
        annotation_level: "failure",
        message: "Parsing error: Unexpected token <",
      },
    ]);
  });

  it("reads GCC and Clang diagnostics; notes become notices", () => {
    const out = log(
      "gcc -Wall -c src/main.c -o build/main.o",
      "src/main.c: In function 'main':",
      "src/main.c:10:3: error: 'y' undeclared (first use in this function)",
      "   10 |   y = 2;",
      "      |   ^",
      "src/main.c:10:3: note: each undeclared identifier is reported only once for each function it appears in",
      "src/main.c:4:7: warning: unused variable 'x' [-Wunused-variable]",
      "    4 |   int x;",
      "./include/util.h:2:10: fatal error: 'missing.h' file not found",
      "make: *** [Makefile:12: build/main.o] Error 1",
    );
    expect(parseAnnotations(out, {}).map((a) => [a.path, a.start_line, a.start_column, a.annotation_level, a.title, a.message])).toEqual([
      ["src/main.c", 10, 3, "failure", undefined, "'y' undeclared (first use in this function)"],
      ["src/main.c", 10, 3, "notice", undefined, "each undeclared identifier is reported only once for each function it appears in"],
      ["src/main.c", 4, 7, "warning", "-Wunused-variable", "unused variable 'x'"],
      ["include/util.h", 2, 10, "failure", undefined, "'missing.h' file not found"],
    ]);
  });

  it("reads Go compiler and vet output as failures", () => {
    const out = log(
      "# example.com/app",
      "./main.go:12:2: undefined: x",
      "./internal/db/db.go:40:15: cannot use s (variable of type string) as int value in argument to f",
      "FAIL\texample.com/app [build failed]",
    );
    expect(parseAnnotations(out, {})).toEqual([
      { path: "main.go", start_line: 12, end_line: 12, start_column: 2, end_column: 2, annotation_level: "failure", message: "undefined: x" },
      {
        path: "internal/db/db.go",
        start_line: 40,
        end_line: 40,
        start_column: 15,
        end_column: 15,
        annotation_level: "failure",
        message: "cannot use s (variable of type string) as int value in argument to f",
      },
    ]);
  });

  it("reads Rust's short format", () => {
    const out = log(
      "   Compiling app v0.1.0 (/home/runner/work/repo)",
      "src/main.rs:2:5: error[E0425]: cannot find value `y` in this scope",
      "src/main.rs:3:9: warning: unused variable: `x`",
      "error: could not compile `app` (bin \"app\") due to 1 previous error; 1 warning emitted",
    );
    expect(parseAnnotations(out, {}).map((a) => [a.path, a.start_line, a.start_column, a.annotation_level, a.title, a.message])).toEqual([
      ["src/main.rs", 2, 5, "failure", "E0425", "cannot find value `y` in this scope"],
      ["src/main.rs", 3, 9, "warning", undefined, "unused variable: `x`"],
    ]);
  });

  it("reads Rust's default (human) format", () => {
    const out = log(
      "error[E0425]: cannot find value `y` in this scope",
      " --> src/main.rs:2:5",
      "  |",
      "2 |     y",
      "  |     ^ not found in this scope",
      "",
      "warning: unused variable: `x`",
      " --> src/lib.rs:3:9",
      "",
      "error: aborting due to 1 previous error",
    );
    expect(parseAnnotations(out, {}).map((a) => [a.path, a.start_line, a.start_column, a.annotation_level, a.title, a.message])).toEqual([
      ["src/main.rs", 2, 5, "failure", "E0425", "cannot find value `y` in this scope"],
      ["src/lib.rs", 3, 9, "warning", undefined, "unused variable: `x`"],
    ]);
  });

  it("skips absolute paths outside the workspace and paths that climb out of it", () => {
    const out = log(
      "/usr/include/stdio.h:12:1: error: something in a system header",
      `${WS}-other/src/a.c:1:1: error: a sibling directory is not the workspace`,
      "../outside/a.ts(1,1): error TS1005: ';' expected.",
      `${WS}/src/ok.c:2:2: error: kept`,
    );
    expect(parseAnnotations(out, { workspace: `${WS}/` }).map((a) => a.path)).toEqual(["src/ok.c"]);
    // Without a workspace every absolute path is outside.
    expect(parseAnnotations(out, {})).toEqual([]);
  });

  it("ignores lines that only look a bit like diagnostics", () => {
    const out = log(
      "Listening on http://localhost:3000",
      "2024-05-01 12:30:45: started",
      "Time: 12:30:45",
      "error: something went wrong",
      "npm ERR! code ELIFECYCLE",
      "at Object.<anonymous> (/home/runner/work/repo/test.js:3:9)",
      "x".repeat(10_000) + ".js:1:1: error: too long to be a diagnostic",
    );
    expect(parseAnnotations(out, { workspace: WS })).toEqual([]);
  });

  it("deduplicates identical annotations", () => {
    const line = "src/a.ts(1,2): error TS1005: ';' expected.";
    expect(parseAnnotations(log(line, line, "src/a.ts(1,3): error TS1005: ';' expected.", line), {})).toHaveLength(2);
  });

  it("stops at max (default 200)", () => {
    const out = Array.from({ length: 300 }, (_, i) => `src/a.c:${i + 1}:1: warning: w${i}`).join("\n");
    const all = parseAnnotations(out, {});
    expect(all).toHaveLength(200);
    expect(all.at(-1)?.start_line).toBe(200);
    expect(parseAnnotations(out, { max: 7 }).map((a) => a.start_line)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(parseAnnotations(out, { max: 0 })).toEqual([]);
  });

  it("handles CRLF and carriage-return progress output", () => {
    const out = "progress 10%\rprogress 100%\r\nsrc/a.c:1:1: error: x\r\nsrc/b.c:2:2: error: y\r\n";
    expect(parseAnnotations(out, {}).map((a) => [a.path, a.message])).toEqual([
      ["src/a.c", "x"],
      ["src/b.c", "y"],
    ]);
  });
});

describe("batchAnnotations", () => {
  it("splits a 120-line log's annotations into 3 batches of at most 50", () => {
    const out = Array.from({ length: 120 }, (_, i) => `src/file${i % 7}.ts(${i + 1},1): error TS2304: Cannot find name 'v${i}'.`).join("\n");
    const annotations = parseAnnotations(out, {});
    expect(annotations).toHaveLength(120);
    const batches = batchAnnotations(annotations);
    expect(batches.map((b) => b.length)).toEqual([50, 50, 20]);
    expect(batches.flat()).toEqual(annotations);
  });

  it("takes other sizes and rejects nonsense", () => {
    expect(batchAnnotations([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(batchAnnotations([], 50)).toEqual([]);
    expect(() => batchAnnotations([1], 0)).toThrow(RangeError);
  });
});
