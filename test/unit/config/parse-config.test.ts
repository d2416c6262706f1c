import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config/parse-config.js";
import { DEFAULT_IMAGE, DEFAULT_TIMEOUT_MS, type ConfigError, type YaciConfig } from "../../../src/config/yaci-config.js";

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/configs/${name}`, import.meta.url), "utf8");
const yml = (...lines: string[]) => `${lines.join("\n")}\n`;

function ok(text: string): YaciConfig {
  const r = parseConfig(text);
  if (!r.ok) throw new Error(`expected a valid config, got:\n${r.errors.map((e) => `${e.line}:${e.column} ${e.message}`).join("\n")}`);
  return r.config;
}

function errors(text: string): ConfigError[] {
  const r = parseConfig(text);
  if (r.ok) throw new Error("expected errors, the config parsed");
  return r.errors;
}

/** The single error of `text`. */
function error(text: string): ConfigError {
  const errs = errors(text);
  expect(errs, JSON.stringify(errs, null, 2)).toHaveLength(1);
  return errs[0]!;
}

const EVERY_EVENT = { push: {}, pull_request: {} };

describe("parseConfig: valid files", () => {
  it.each<[string, string, YaciConfig]>([
    [
      "shortest form",
      fixture("short.yml"),
      {
        version: 1,
        on: EVERY_EVENT,
        cancelSuperseded: true,
        jobs: [{ name: "build", image: "alpine:3.20", run: "echo great success", timeoutMs: DEFAULT_TIMEOUT_MS, env: {} }],
      },
    ],
    [
      "full form",
      fixture("full.yml"),
      {
        version: 1,
        on: { push: { branches: ["main", "release/*"] }, pull_request: { branches: ["main"] } },
        cancelSuperseded: true,
        jobs: [
          {
            name: "test",
            image: "node:20",
            run: "npm ci\nnpm test\n",
            timeoutMs: 10 * 60_000,
            env: { CI: "true", FOO: "bar" },
            resources: { cpu: "1", memory: "1Gi" },
          },
          { name: "lint", image: "node:22-alpine", run: "npm run lint", timeoutMs: 5 * 60_000, env: { CI: "true" } },
        ],
      },
    ],
    [
      "run only: every default",
      yml("run: make"),
      {
        version: 1,
        on: EVERY_EVENT,
        cancelSuperseded: true,
        jobs: [{ name: "build", image: DEFAULT_IMAGE, run: "make", timeoutMs: 3_600_000, env: {} }],
      },
    ],
    [
      "shortest form with top-level settings",
      yml("version: 1", "timeout: 1h30m", "env: { A: x }", "on: push", "cancel_superseded: false", "run: make test"),
      {
        version: 1,
        on: { push: {} },
        cancelSuperseded: false,
        jobs: [{ name: "build", image: DEFAULT_IMAGE, run: "make test", timeoutMs: 5_400_000, env: { A: "x" } }],
      },
    ],
    [
      "jobs with defaults",
      yml("jobs:", "  a:", "    run: echo a", "  b.c_d-1:", "    run: echo b"),
      {
        version: 1,
        on: EVERY_EVENT,
        cancelSuperseded: true,
        jobs: [
          { name: "a", image: DEFAULT_IMAGE, run: "echo a", timeoutMs: DEFAULT_TIMEOUT_MS, env: {} },
          { name: "b.c_d-1", image: DEFAULT_IMAGE, run: "echo b", timeoutMs: DEFAULT_TIMEOUT_MS, env: {} },
        ],
      },
    ],
  ])("%s", (_name, text, expected) => {
    expect(ok(text)).toEqual(expected);
  });

  it("merges env: the job's value wins, numbers and booleans become strings as written", () => {
    const config = ok(
      yml(
        "env:",
        "  CI: true",
        "  SHARED: top",
        "  VERSION: 1.0",
        "  PORT: 08080",
        "  HEX: 0x1F",
        "  QUOTED: '42'",
        "jobs:",
        "  t:",
        "    run: env",
        "    env:",
        "      SHARED: job",
        "      RETRIES: 3",
        "      DEBUG: false",
        "  u:",
        "    run: env",
      ),
    );
    expect(config.jobs[0]!.env).toEqual({
      CI: "true",
      SHARED: "job",
      VERSION: "1.0",
      PORT: "08080",
      HEX: "0x1F",
      QUOTED: "42",
      RETRIES: "3",
      DEBUG: "false",
    });
    expect(config.jobs[1]!.env).toEqual({ CI: "true", SHARED: "top", VERSION: "1.0", PORT: "08080", HEX: "0x1F", QUOTED: "42" });
    // Each job gets its own copy.
    expect(config.jobs[0]!.env).not.toBe(config.jobs[1]!.env);
  });

  it("uses the top-level image and timeout unless a job overrides them", () => {
    const config = ok(yml("image: node:22", "timeout: 20m", "jobs:", "  a: { run: x }", "  b: { run: y, image: rust:1, timeout: 2h }"));
    expect(config.jobs.map((j) => [j.name, j.image, j.timeoutMs])).toEqual([
      ["a", "node:22", 20 * 60_000],
      ["b", "rust:1", 2 * 3_600_000],
    ]);
  });

  it.each<[string, string, YaciConfig["on"]]>([
    ["omitted", "", EVERY_EVENT],
    ["a string", "on: pull_request", { pull_request: {} }],
    ["a list", "on: [push, pull_request]", EVERY_EVENT],
    ["push: {}", "on: { push: {} }", { push: {} }],
    ["push: null", "on:\n  push:\n  pull_request: { branches: main }", { push: {}, pull_request: { branches: ["main"] } }],
    ["branch globs", "on:\n  push:\n    branches:\n      - main\n      - 'release/**'", { push: { branches: ["main", "release/**"] } }],
  ])("on: %s", (_name, on, expected) => {
    expect(ok(`${on}\nrun: x\n`).on).toEqual(expected);
  });

  it("accepts resources as strings or numbers and keeps them as Kubernetes quantities", () => {
    const config = ok(
      yml(
        "jobs:",
        "  a: { run: x, resources: { cpu: 2, memory: 512Mi } }",
        "  b: { run: x, resources: { cpu: 0.5 } }",
        "  c: { run: x, resources: { cpu: 500m, memory: 1e9 } }",
        "  d: { run: x, resources: {} }",
      ),
    );
    expect(config.jobs.map((j) => j.resources)).toEqual([
      { cpu: "2", memory: "512Mi" },
      { cpu: "0.5" },
      { cpu: "500m", memory: "1000000000" },
      undefined,
    ]);
    expect("resources" in config.jobs[3]!).toBe(false);
  });

  it("accepts run as a list of commands, joined by newlines", () => {
    expect(ok(yml("run:", "  - npm ci", "  - npm test")).jobs[0]!.run).toBe("npm ci\nnpm test");
  });

  it("resolves anchors, aliases and merge keys", () => {
    const config = ok(
      yml("jobs:", "  a: &base", "    run: make", "    timeout: 5m", "  b:", "    <<: *base", "    run: make check"),
    );
    expect(config.jobs.map((j) => [j.name, j.run, j.timeoutMs])).toEqual([
      ["a", "make", 300_000],
      ["b", "make check", 300_000],
    ]);
  });

  it("keeps the jobs in the file's order, numeric names included", () => {
    expect(ok(yml("jobs:", "  zeta: { run: x }", "  10: { run: x }", "  alpha: { run: x }", "  2: { run: x }")).jobs.map((j) => j.name)).toEqual([
      "zeta",
      "10",
      "alpha",
      "2",
    ]);
  });

  it("accepts a job name of 63 characters", () => {
    const name = `a${"b".repeat(62)}`;
    expect(ok(yml("jobs:", `  ${name}: { run: x }`)).jobs[0]!.name).toBe(name);
  });
});

describe("parseConfig: errors", () => {
  it("reports the empty file at line 1", () => {
    expect(error("")).toMatchObject({ line: 1, column: 1, message: "the file is empty" });
    expect(error("# only a comment\n")).toMatchObject({ line: 1, column: 1, message: "the file is empty" });
  });

  it.each([
    ["a list", "- run: x\n", "got a list"],
    ["a string", "echo hi\n", "got `echo hi`"],
  ])("reports a file that is %s at line 1", (_name, text, got) => {
    const e = error(text);
    expect(e).toMatchObject({ line: 1, column: 1 });
    expect(e.message).toBe(`the file must be a mapping with \`run:\` or \`jobs:\`, got ${got.replace("got ", "")}`);
    expect(e.hint).toBeTruthy();
  });

  it("rejects run and jobs together, at the run key", () => {
    const e = error(yml("image: x", "run: echo", "jobs:", "  a: { run: y }"));
    expect(e).toMatchObject({ line: 2, column: 1, path: "run", message: "`run` and `jobs` cannot be used together" });
    expect(e.hint).toContain("Use `run:` alone for a single job");
  });

  it("rejects a file with neither run nor jobs, at the top mapping", () => {
    const e = error(yml("# comment", "image: node:20", "timeout: 5m"));
    expect(e).toMatchObject({ line: 2, column: 1, message: "nothing to run: the file has neither `run:` nor `jobs:`" });
    expect(e.hint).toBe("Add `run: <command>` for a single job, or `jobs:` with one or more named jobs.");
  });

  it("rejects an empty jobs map", () => {
    expect(error(yml("jobs: {}"))).toMatchObject({ line: 1, column: 7, path: "jobs", message: "`jobs` has no jobs" });
  });

  it("rejects `jobs:` with nothing after it, at the key", () => {
    expect(error(yml("jobs:"))).toMatchObject({
      line: 1,
      column: 1,
      message: "`jobs` must be a mapping of job names to jobs, got an empty value",
    });
  });

  it("points a missing run at the job's mapping", () => {
    const e = error(yml("jobs:", "  test:", "    image: node:20", "    timeout: 5m"));
    expect(e).toMatchObject({ line: 3, column: 5, path: "jobs.test.run", message: "job `test` has no `run:`" });
    expect(e.hint).toContain("`run: npm test`");
  });

  it.each([
    ["with spaces", '"unit tests"', 3],
    ["starting with a dash", "-x", 3],
    ["with a slash", "a/b", 3],
    ["64 characters", "a".repeat(64), 3],
  ])("rejects a job name %s, at the name", (_name, jobName, column) => {
    const e = error(yml("jobs:", "  ok: { run: x }", `  ${jobName}:`, "    run: x"));
    expect(e).toMatchObject({ line: 3, column });
    expect(e.message).toMatch(/^job name `.+` is not allowed: job names become check-run names$/);
    expect(e.hint).toBe("Use 1 to 63 letters, digits, `_`, `.` or `-`, starting with a letter or digit, e.g. `unit-tests`.");
  });

  it("rejects a job that is not a mapping", () => {
    const e = error(yml("jobs:", "  lint: npm run lint"));
    expect(e).toMatchObject({ line: 2, column: 9, message: "job `lint` must be a mapping with `run:`, got `npm run lint`" });
  });

  it("reports an empty job at its name", () => {
    expect(error(yml("jobs:", "  lint:"))).toMatchObject({ line: 2, column: 3, message: "job `lint` must be a mapping with `run:`, got an empty value" });
  });

  it.each([
    ["top level", yml("timout: 5m", "run: x"), 1, 1, "unknown key `timout` at the top level", "Did you mean `timeout`?"],
    ["top level, dash", yml("run: x", "cancel-superseded: false"), 2, 1, "unknown key `cancel-superseded` at the top level", "Did you mean `cancel_superseded`?"],
    ["job", yml("jobs:", "  t:", "    run: x", "    imagee: node"), 4, 5, "unknown key `imagee` in job `t`", "Did you mean `image`?"],
    ["job, capitalised", yml("jobs:", "  t:", "    Run: x", "    run: y"), 3, 5, "unknown key `Run` in job `t`", "Did you mean `run`?"],
    ["on", yml("on:", "  pushh: {}", "run: x"), 2, 3, "unknown key `pushh` in `on`", "Did you mean `push`?"],
    ["on, dash", yml("on:", "  pull-request: {}", "run: x"), 2, 3, "unknown key `pull-request` in `on`", "Did you mean `pull_request`?"],
    ["event filter", yml("on:", "  push:", "    branch: main", "run: x"), 3, 5, "unknown key `branch` in `on.push`", "Did you mean `branches`?"],
    ["resources", yml("jobs:", "  t:", "    run: x", "    resources: { cpus: 2 }"), 4, 18, "unknown key `cpus` in `jobs.t.resources`", "Did you mean `cpu`?"],
  ])("unknown key with did-you-mean: %s", (_name, text, line, column, message, hint) => {
    expect(error(text)).toMatchObject({ line, column, message, hint });
  });

  it.each([
    ["far from every key", yml("run: x", "colour: blue"), "Remove it or use a known key. Allowed here: `version`, `image`, `timeout`, `env`, `on`, `cancel_superseded`, `secrets`, `run`, `jobs`."],
    ["a job at the top level", yml("run: x", "test:", "  run: npm test"), "To define a job named `test`, indent it under `jobs:`."],
    ["resources at the top level", yml("run: x", "resources: { cpu: 1 }"), "`resources` is set per job: use the `jobs:` form and put `resources:` under the job."],
    ["a top-level key in a job", yml("jobs:", "  t:", "    run: x", "    on: push"), "`on` is only allowed at the top level of the file, not in a job."],
    ["steps in a job", yml("jobs:", "  t:", "    run: x", "    steps: []"), "Write the commands under `run:`. Allowed here: `run`, `image`, `timeout`, `env`, `resources`, `needs`, `matrix`, `secrets`."],
    ["another event", yml("on:", "  workflow_dispatch: {}", "run: x"), "YACI runs on `push` and `pull_request` only. Allowed here: `push`, `pull_request`."],
    ["branches directly under on", yml("on:", "  branches: [main]", "run: x"), "`branches` goes under an event, e.g. `on: { push: { branches: [main] } }`."],
    ["paths in a filter", yml("on:", "  push: { paths: [src] }", "run: x"), "Only `branches` is supported in an event filter. Allowed here: `branches`."],
  ])("unknown key hints: %s", (_name, text, hint) => {
    expect(error(text).hint).toBe(hint);
  });

  it.each([
    ["a string", "timeout: 15 minutes", 10, "`timeout` must be a duration like 15m, got `15 minutes`", "Write `15m`."],
    ["a number", "timeout: 15", 10, "`timeout` must be a duration like 15m, got `15`", "Add a unit: `15m` for minutes (or `15s`, `15h`)."],
    ["too long", "timeout: 7h", 10, "`timeout` must be at most 6h, got `7h`", "Use 6h or less; split very long work into several jobs."],
    ["zero", "timeout: 0m", 10, "`timeout` must be longer than 0, got `0m`", "Use a positive duration such as `10m`."],
  ])("rejects a timeout that is %s", (_name, line, column, message, hint) => {
    expect(error(yml("run: x", line))).toMatchObject({ line: 2, column, path: "timeout", message, hint });
  });

  it("names the job in a job's timeout error", () => {
    expect(error(yml("jobs:", "  unit:", "    run: x", "    timeout: 1 hour"))).toMatchObject({
      line: 4,
      column: 14,
      path: "jobs.unit.timeout",
      message: "`jobs.unit.timeout` must be a duration like 15m, got `1 hour`",
      hint: "Write `1h`.",
    });
  });

  it.each([
    ["version 2", "version: 2", 10, "`version` must be `1`, got `2`"],
    ["version as a string", 'version: "1"', 10, "`version` must be `1`, got `\"1\"`"],
    ["cancel_superseded: yes", "cancel_superseded: yes", 20, "`cancel_superseded` must be `true` or `false`, got `yes`"],
    ["an image list", "image: [a, b]", 8, "`image` must be a container image name like `node:22-alpine`, got a list"],
    ["an image with spaces", "image: node 20", 8, "`image` must be a container image name like `node:22-alpine`, got `node 20`"],
    ["env as a list", "env: [A=1]", 6, "`env` must be a mapping of variable names to values, got a list"],
    ["an env value that is a mapping", "env: { A: { b: 1 } }", 11, "`env.A` must be a string, number or boolean, got a mapping"],
    ["an empty env value", "env: { A: }", 8, "`env.A` must be a string, number or boolean, got an empty value"],
    ["on: a number", "on: 5", 5, "`on` must be `push`, `pull_request`, a list of them, or a mapping of event to filter, got `5`"],
    ["an unknown event", "on: pullrequest", 5, "`on` must be `push` or `pull_request`, got `pullrequest`"],
    ["an unknown event in a list", "on: [push, pr]", 12, "`on[1]` must be `push` or `pull_request`, got `pr`"],
    ["no events", "on: {}", 5, "`on` lists no events, so nothing would ever run"],
    ["empty branches", "on: { push: { branches: [] } }", 25, "`on.push.branches` is empty, so it matches no branch"],
    ["a negated branch", "on: { push: { branches: ['!main'] } }", 26, "`on.push.branches[0]` is a negated pattern (`!main`), which is not supported"],
    ["a branch that is a number", "on: { push: { branches: [main, 5] } }", 32, "`on.push.branches[1]` must be a branch name or glob pattern, got `5`"],
  ])("rejects %s", (_name, line, column, message) => {
    const e = error(yml(line, "run: x"));
    expect(e).toMatchObject({ line: 1, column, message });
    expect(e.hint).toBeTruthy();
  });

  it("suggests the closest event name", () => {
    expect(error(yml("on: pullrequest", "run: x")).hint).toBe("Did you mean `pull_request`?");
  });

  it.each([
    ["an empty run", "run: ''", 6, "`run` is empty"],
    ["run as a number", "run: 42", 6, "`run` must be a shell command or script, got `42`"],
    ["run: a mapping", "run: { a: b }", 6, "`run` must be a shell command or script, got a mapping"],
    ["run: a list with a mapping", "run: [a, { b: c }]", 10, "`run[1]` must be a string (one command), got a mapping"],
  ])("rejects %s", (_name, line, column, message) => {
    expect(error(yml(line))).toMatchObject({ line: 1, column, message });
  });

  it.each([
    ["cpu: a memory unit", "{ cpu: 1Gi }", 23, "`jobs.t.resources.cpu` uses a memory unit: `1Gi`", "CPU is counted in cores (`1`, `0.5`) or millicores (`500m`)."],
    ["cpu: words", "{ cpu: two }", 23, "`jobs.t.resources.cpu` must be a CPU quantity like `500m`, `1` or `2`, got `two`", "Write cores as a number (`1`, `0.5`) or millicores (`500m`)."],
    ["cpu: negative", "{ cpu: -1 }", 23, "`jobs.t.resources.cpu` must be a CPU quantity like `500m`, `1` or `2`, got `-1`", "Quantities cannot be negative."],
    ["cpu: zero", "{ cpu: 0 }", 23, "`jobs.t.resources.cpu` must be more than 0, got `0`", "Write cores as a number (`1`, `0.5`) or millicores (`500m`). Remove `cpu` to use the cluster's default."],
    ["memory in GB", "{ memory: 1GB }", 26, "`jobs.t.resources.memory` must be a memory quantity like `512Mi` or `1Gi`, got `1GB`", "Kubernetes writes bytes without `B`: use `1Gi`."],
    ["memory in millibytes", "{ memory: 512m }", 26, "`jobs.t.resources.memory` is `512m`, which means millibytes", "Did you mean `512Mi` (mebibytes)?"],
    ["resources as a string", "1Gi", 16, "`jobs.t.resources` must be a mapping with `cpu:` and/or `memory:`, got `1Gi`", "Write e.g. `resources: { cpu: \"1\", memory: 1Gi }`."],
  ])("rejects resources: %s", (_name, value, column, message, hint) => {
    expect(error(yml("jobs:", "  t:", "    run: x", `    resources: ${value}`))).toMatchObject({ line: 4, column, message, hint });
  });

  it.each([
    ["starting with a digit", "1BAD"],
    ["with a dash", "MY-VAR"],
  ])("rejects an env name %s, at the name", (_name, name) => {
    const e = error(yml("run: x", "env:", "  OK: 1", `  ${name}: x`));
    expect(e).toMatchObject({ line: 4, column: 3, message: `environment variable name \`${name}\` is not valid` });
    expect(e.hint).toBe("Use letters, digits and `_` only, not starting with a digit, e.g. `MY_VAR`.");
  });

  it("rejects a __proto__ key", () => {
    expect(error(yml("run: x", "env:", "  __proto__: x"))).toMatchObject({ line: 3, column: 3, message: "the key `__proto__` is not allowed" });
  });

  it("reports duplicate keys at the second one", () => {
    const e = error(yml("jobs:", "  test:", "    run: a", "    timeout: 5m", "    timeout: 10m"));
    expect(e).toMatchObject({ line: 5, column: 5, message: "duplicate key `timeout`" });
    expect(e.hint).toBe("Remove one of the `timeout` entries or merge them: a key may appear only once in a mapping.");
  });

  it("reports duplicate job names", () => {
    expect(error(yml("jobs:", "  a: { run: x }", "  a: { run: y }"))).toMatchObject({ line: 3, column: 3, message: "duplicate key `a`" });
  });

  it.each([
    ["a tab as indentation", yml("jobs:", "  t:", "\trun: x"), 3, 1, "YAML syntax error: tabs are not allowed as indentation", "YAML does not allow tabs for indentation: indent with spaces."],
    ["an unquoted `: ` in a value", yml("run: echo a: b"), 1, 6, "YAML syntax error: nested mappings are not allowed in compact mappings", "A value that contains `: ` must be quoted"],
    ["bad indentation", yml("jobs:", "  a:", "    run: x", "   b: y"), 4, 4, "YAML syntax error: all mapping items must start at the same column", "Check the indentation"],
    ["an unclosed quote", yml('run: "echo', "timeout: 5m"), 1, 6, "YAML syntax error: missing closing \"quote", "Add the missing closing character"],
    ["two documents", yml("run: a", "---", "run: b"), 2, 1, "YAML syntax error: source contains multiple documents", "Keep a single YAML document"],
  ])("reports YAML syntax errors: %s", (_name, text, line, column, message, hint) => {
    const e = errors(text)[0]!;
    expect(e.line).toBe(line);
    expect(e.column).toBe(column);
    expect(e.message).toContain(message);
    expect(e.hint).toContain(hint);
  });

  it("reports an alias without an anchor", () => {
    expect(error(yml("jobs:", "  a: *missing"))).toMatchObject({ line: 2, column: 6 });
  });

  it("collects every error, sorted by line and column", () => {
    const text = yml(
      "version: 2", //                  1
      "imgae: node", //                 2
      "timeout: 15 minutes", //         3
      "on:", //                         4
      "  push: { branch: main }", //    5
      "jobs:", //                       6
      "  test:", //                     7
      "    run: npm test", //           8
      "    env: { 1X: a, OK: b }", //   9
      "  lint:", //                     10
      "    image: node", //             11
      "  bad name: { run: x }", //      12
    );
    expect(errors(text).map((e) => [e.line, e.column, e.path])).toEqual([
      [1, 10, "version"],
      [2, 1, "imgae"],
      [3, 10, "timeout"],
      [5, 11, "on.push.branch"],
      [9, 12, "jobs.test.env.1X"],
      [11, 5, "jobs.lint.run"],
      [12, 3, "jobs.bad name"],
    ]);
  });

  it("reports schema errors next to duplicate keys", () => {
    const errs = errors(yml("run: x", "run: y", "timeout: soon"));
    expect(errs.map((e) => [e.line, e.column, e.message])).toEqual([
      [2, 1, "duplicate key `run`"],
      [3, 10, "`timeout` must be a duration like 15m, got `soon`"],
    ]);
  });

  it("counts columns from 1 and lines across CRLF line endings", () => {
    expect(error("run: x\r\ntimeout: 5\r\n")).toMatchObject({ line: 2, column: 10 });
  });

  it("gives every error a message and a hint", () => {
    const text = yml("version: 3", "foo: 1", "on: { push: { branches: [] } }", "jobs:", "  t: { run: '', timeout: 99h, resources: { memory: lots } }");
    const errs = errors(text);
    expect(errs.length).toBeGreaterThanOrEqual(5);
    for (const e of errs) {
      expect(e.message.length).toBeGreaterThan(5);
      expect(e.hint?.length ?? 0).toBeGreaterThan(5);
      expect(e.line).toBeGreaterThanOrEqual(1);
      expect(e.column).toBeGreaterThanOrEqual(1);
    }
  });
});
