import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { yaci } from "./yaci-process.js";

const dir = mkdtempSync(join(tmpdir(), "yaci-cli-validate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return name;
}

describe.concurrent("yaci validate", () => {
  it("lists one line per job (name, image, timeout) for a valid file, exit 0", async () => {
    file(".yaci.yml", "image: node:22-alpine\ntimeout: 15m\njobs:\n  test:\n    run: npm test\n  lint:\n    run: npm run lint\n    timeout: 5m\n    image: alpine:3.20\n");
    const r = await yaci(["validate"], { cwd: dir });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines.slice(0, 2)).toEqual([
      expect.stringMatching(/^test\s+node:22-alpine\s+timeout 15m$/),
      expect.stringMatching(/^lint\s+alpine:3\.20\s+timeout 5m$/),
    ]);
    expect(lines[2]).toBe("valid: .yaci.yml (2 jobs)");
    expect(r.stdout).not.toContain("\u001b["); // a pipe, not a terminal: no colours
  });

  // Each broken file: the position every problem must be reported at, and a part of its message.
  const broken: Array<[string, string, string, string]> = [
    ["a misspelled key", "jobs:\n  test:\n    timout: 5m\n    run: make\n", "3:5", "unknown key `timout` in job `test`"],
    ["a timeout without unit", "run: make\ntimeout: 15\n", "2:10", "must be a duration like 15m, got `15`"],
    ["run and jobs together", "run: make\njobs:\n  a:\n    run: x\n", "1:1", "`run` and `jobs` cannot be used together"],
    ["neither run nor jobs", "image: alpine\n", "1:1", "neither `run:` nor `jobs:`"],
    ["a job name with a space", 'jobs:\n  "a b":\n    run: x\n', "2:3", "job name `a b` is not allowed"],
    ["an env name starting with a digit", "run: x\nenv:\n  1A: y\n", "3:3", "environment variable name `1A` is not valid"],
    ["a tab as indentation", "jobs:\n\ttest:\n    run: x\n", "2:1", "tabs are not allowed as indentation"],
    ["a duplicate key", "run: x\nimage: a\nimage: b\n", "3:1", "duplicate key `image`"],
    ["an unclosed quote", 'run: "echo hi\nimage: a\n', "1:6", "missing closing"],
    ["version 2", "version: 2\nrun: x\n", "1:10", "`version` must be `1`, got `2`"],
    ["an unknown event", "run: x\non: release\n", "2:5", "`on` must be `push` or `pull_request`, got `release`"],
    ["memory in MB", "jobs:\n  t:\n    run: x\n    resources:\n      memory: 512MB\n", "5:15", "got `512MB`"],
    ["an empty file", "", "1:1", "the file is empty"],
    ["a timeout over 6h", "run: x\ntimeout: 7h\n", "2:10", "must be at most 6h"],
    ["a list where an image belongs", "jobs:\n  t:\n    run: x\n    image: [a, b]\n", "4:12", "must be a container image name"],
  ];

  it.each(broken)("reports %s as FILE:LINE:COL: message, with how to fix it, exit 1", async (_what, text, at, message) => {
    const name = file(`broken-${at.replace(":", "-")}-${broken.findIndex((b) => b[1] === text)}.yml`, text);
    const r = await yaci(["validate", name], { cwd: dir });
    expect(r.code).toBe(1);
    const problems = r.stdout.split("\n").filter((l) => l.startsWith(`${name}:`));
    expect(problems[0]).toMatch(new RegExp(`^${name.replace(/\./g, "\\.")}:\\d+:\\d+: error: `));
    // The problem is reported at its position (other problems may come with it).
    expect(problems.find((l) => l.includes(message))).toMatch(new RegExp(`^${name.replace(/\./g, "\\.")}:${at}: error: `));
    expect(r.stdout).toMatch(/\n {2}how to fix: \S/);
    expect(r.stdout.trim().split("\n").at(-1)).toMatch(new RegExp(`^\\d+ problems? in ${name.replace(/\./g, "\\.")}$`));
  });

  it("reports every problem of a file, in file order", async () => {
    const name = file("two.yml", "jobs:\n  test:\n    timout: 5m\n    run: x\n  lint:\n    run: y\n    timeout: 15\n");
    const r = await yaci(["validate", name], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n").filter((l) => l.startsWith(`${name}:`))).toEqual([
      "two.yml:3:5: error: unknown key `timout` in job `test`",
      "two.yml:7:14: error: `jobs.lint.timeout` must be a duration like 15m, got `15`",
    ]);
    expect(r.stdout).toContain("  3 |     timout: 5m\n    |     ^\n  how to fix: Did you mean `timeout`?");
  });

  it("--format json prints one JSON document, for broken and valid files", async () => {
    const bad = await yaci(["validate", file("j.yml", "run: x\ntimeout: 15\n"), "--format", "json"], { cwd: dir });
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toEqual({
      file: "j.yml",
      valid: false,
      errors: [{ line: 2, column: 10, path: "timeout", message: expect.stringContaining("got `15`"), hint: expect.stringContaining("15m") }],
    });
    const good = await yaci(["validate", file("ok.yml", "run: make\n"), "--format=json"], { cwd: dir });
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ file: "ok.yml", valid: true, config: { jobs: [{ name: "build", run: "make", timeoutMs: 3_600_000 }] } });
  });

  it("exits 2 when the file cannot be read", async () => {
    const r = await yaci(["validate", "nope.yml"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("cannot read nope.yml: no such file");
  });
});

describe.concurrent("yaci's command line", () => {
  it.each([[["--help"]], [["validate", "--help"]], [["run", "-h"]], [["schema", "--help"]]])("%j prints help, exit 0", async (args) => {
    const r = await yaci(args);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: yaci/);
  });

  it.each([
    [["validate", "--bogus"], "Unknown option '--bogus'"],
    [["validate", "--format", "xml"], "--format must be text or json"],
    [["validate", "a.yml", "b.yml"], "unexpected argument 'b.yml'"],
    [["run", "--event", "release"], "--event must be push or pull_request"],
    [["run", "--env", "1X=y"], "--env needs NAME=VALUE"],
    [["schema", "extra"], "unexpected argument 'extra'"],
    [["frobnicate"], "unknown command 'frobnicate'"],
    [[], "no command given"],
  ])("%j is a usage error, exit 2", async (args, message) => {
    const r = await yaci(args, { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe("");
  });
});
