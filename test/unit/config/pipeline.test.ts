import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config/parse-config.js";
import type { ConfigError, JobConfig } from "../../../src/config/yaci-config.js";

const yml = (...lines: string[]) => `${lines.join("\n")}\n`;

function jobs(text: string): JobConfig[] {
  const r = parseConfig(text);
  if (!r.ok) throw new Error(`expected a valid config, got:\n${r.errors.map((e) => `${e.line}:${e.column} ${e.message}`).join("\n")}`);
  return r.config.jobs;
}

function errors(text: string): ConfigError[] {
  const r = parseConfig(text);
  if (r.ok) throw new Error(`expected errors, the config parsed: ${JSON.stringify(r.config.jobs.map((j) => j.name))}`);
  return r.errors;
}

/** The single error of `text`, as `line:column message` and its hint. */
function error(text: string): { at: string; message: string; hint: string } {
  const errs = errors(text);
  expect(errs, JSON.stringify(errs, null, 2)).toHaveLength(1);
  const e = errs[0]!;
  return { at: `${e.line}:${e.column}`, message: e.message, hint: e.hint ?? "" };
}

describe("needs", () => {
  it("takes a list or a single name; jobs without needs have none", () => {
    const js = jobs(yml("jobs:", "  build: { run: make }", "  lint: { run: lint, needs: [] }", "  test: { run: t, needs: build }", "  deploy:", "    run: d", "    needs: [test, build, test]"));
    expect(js.map((j) => [j.name, j.needs])).toEqual([
      ["build", undefined],
      ["lint", undefined],
      ["test", ["build"]],
      ["deploy", ["test", "build"]],
    ]);
  });

  it("a matrix job stands for every combination, in order", () => {
    const js = jobs(yml("jobs:", "  test:", "    run: t", "    matrix: { node: [20, 22] }", "  deploy: { run: d, needs: test }"));
    expect(js.map((j) => j.name)).toEqual(["test (20)", "test (22)", "deploy"]);
    expect(js[2]!.needs).toEqual(["test (20)", "test (22)"]);
  });

  it("combinations that need a job each need it", () => {
    const js = jobs(yml("jobs:", "  build: { run: b }", "  test:", "    run: t", "    needs: build", "    matrix: { os: [a, b] }"));
    expect(js.slice(1).map((j) => j.needs)).toEqual([["build"], ["build"]]);
  });

  it("an unknown job: error at the entry, with did-you-mean", () => {
    expect(error(yml("jobs:", "  build: { run: b }", "  test:", "    run: t", "    needs: [lint, biuld]", "  lint: { run: l }"))).toEqual({
      at: "5:19",
      message: "job `test` needs `biuld`, which is not a job in this file",
      hint: "Did you mean `build`?",
    });
  });

  it("an unknown job written as a single name, far from every job: lists the jobs", () => {
    expect(error(yml("jobs:", "  build: { run: b }", "  test:", "    run: t", "    needs: deploy-prod"))).toEqual({
      at: "5:12",
      message: "job `test` needs `deploy-prod`, which is not a job in this file",
      hint: "`needs` names jobs of this file: `build`, `test`.",
    });
  });

  it("a cycle: named in order, at the needs entry that closes it (b → a)", () => {
    expect(error(yml("jobs:", "  a: { run: x, needs: c }", "  b: { run: x, needs: [a] }", "  c:", "    run: x", "    needs:", "      - b"))).toEqual({
      at: "3:24",
      message: "jobs `a` → `c` → `b` → `a` need each other",
      hint: "Remove one of these `needs` entries: a job can only wait for jobs that do not wait for it.",
    });
  });

  it("a two-job cycle and a job that needs itself are both reported", () => {
    const errs = errors(yml("jobs:", "  a: { run: x, needs: [b] }", "  b: { run: x, needs: [a] }", "  c: { run: x, needs: [c] }"));
    expect(errs.map((e) => `${e.line}:${e.column} ${e.message}`)).toEqual(["3:24 jobs `a` → `b` → `a` need each other", "4:24 job `c` needs itself"]);
  });

  it("a long cycle is shortened in the message", () => {
    const names = Array.from({ length: 10 }, (_, i) => `job${i}`);
    const text = yml("jobs:", ...names.map((n, i) => `  ${n}: { run: x, needs: ${names[(i + 1) % 10]} }`));
    const e = error(text);
    expect(e.message).toBe("jobs `job0` → `job1` → `job2` → … → `job9` → `job0` need each other");
    expect(e.at).toBe("11:26");
  });

  it("must be a name or a list of names", () => {
    expect(error(yml("jobs:", "  a: { run: x, needs: { b: 1 } }", "  b: { run: y }"))).toMatchObject({ at: "2:23", message: "`jobs.a.needs` must be a job name or a list of job names, got a mapping" });
    expect(error(yml("jobs:", "  a: { run: x, needs: [1] }"))).toMatchObject({ at: "2:24", message: "`jobs.a.needs[0]` must be a job name, got `1`" });
  });

  it("is unknown at the top level", () => {
    expect(error(yml("needs: [a]", "jobs:", "  a: { run: x }")).message).toBe("unknown key `needs` at the top level");
  });
});

describe("matrix", () => {
  it("one job per combination, named by its values in key order, first key slowest", () => {
    const js = jobs(yml("jobs:", "  test:", "    run: npm test", "    matrix:", '      node: ["20", "22"]', "      db: [pg, mysql]"));
    expect(js.map((j) => j.name)).toEqual(["test (20, pg)", "test (20, mysql)", "test (22, pg)", "test (22, mysql)"]);
    expect(js[1]!.matrix).toEqual({ node: "20", db: "mysql" });
    expect(js[1]!.env).toEqual({ MATRIX_NODE: "20", MATRIX_DB: "mysql" });
  });

  it("keeps values as written (3.10 stays 3.10), in lists, include and exclude alike", () => {
    const js = jobs(yml("jobs:", "  t:", "    run: x", "    matrix:", "      python: [3.9, 3.10, 3.11]", "      exclude: [{ python: 3.9 }]", "      include: [{ python: 3.10, extra: 1.50 }]"));
    expect(js.map((j) => j.name)).toEqual(["t (3.10, 1.50)", "t (3.11)"]);
  });

  it("keeps the other jobs in the file's order around the combinations", () => {
    const js = jobs(yml("jobs:", "  10: { run: x }", "  lint: { run: x }", "  test:", "    run: x", "    matrix: { v: [a, b] }", "  2: { run: x }"));
    expect(js.map((j) => j.name)).toEqual(["10", "lint", "test (a)", "test (b)", "2"]);
    expect(js[0]!.matrix).toBeUndefined();
  });

  it("fills ${{ matrix.<key> }} in image, env values and run; MATRIX_* variables from the keys", () => {
    const js = jobs(
      yml(
        "image: node:${{ matrix.node }}-alpine",
        "env: { GREETING: hi }",
        "jobs:",
        "  test:",
        "    matrix:",
        "      node: [20, 22.10]",
        "      db-kind: [pg]",
        "      flag: [true]",
        "    env:",
        '      URL: "${{matrix.db-kind}}://localhost"',
        "      PLAIN: '${{ github.sha }}'",
        "    run: |",
        "      echo ${{ matrix.node }} ${{  matrix.db-kind  }}",
        "      test ${{ matrix.flag }} = true",
      ),
    );
    expect(js.map((j) => j.name)).toEqual(["test (20, pg, true)", "test (22.10, pg, true)"]);
    expect(js[1]).toMatchObject({
      image: "node:22.10-alpine",
      run: "echo 22.10 pg\ntest true = true\n",
      env: { GREETING: "hi", URL: "pg://localhost", PLAIN: "${{ github.sha }}", MATRIX_NODE: "22.10", MATRIX_DB_KIND: "pg", MATRIX_FLAG: "true" },
      matrix: { node: "22.10", "db-kind": "pg", flag: "true" },
    });
  });

  it("an unknown key in ${{ matrix.x }}: error at the expression's line and column, with did-you-mean", () => {
    expect(error(yml("jobs:", "  test:", "    matrix: { node: [20] }", "    run: |", "      echo start", "      echo ${{ matrix.nod }}"))).toEqual({
      at: "6:12",
      message: "`${{ matrix.nod }}`: `nod` is not a key of the matrix of job `test`",
      hint: "Did you mean `${{ matrix.node }}`?",
    });
    expect(error(yml("jobs:", "  test:", "    matrix: { node: [20] }", "    run: x", "    env: { A: 'v${{ matrix.os }}' }"))).toMatchObject({
      at: "5:17",
      hint: "The matrix's keys: `node`.",
    });
  });

  it("${{ matrix.x }} in a job without a matrix, also when inherited from the top level", () => {
    expect(error(yml("jobs:", "  a:", "    run: echo ${{ matrix.os }}"))).toEqual({
      at: "3:15",
      message: "`${{ matrix.os }}`: job `a` has no `matrix`",
      hint: "Add a `matrix:` to the job, or remove the expression.",
    });
    const errs = errors(yml("image: node:${{ matrix.node }}", "jobs:", "  a: { run: x, matrix: { node: [20] } }", "  b: { run: x }"));
    expect(errs.map((e) => `${e.line}:${e.column} ${e.message}`)).toEqual(["1:13 `${{ matrix.node }}`: job `b` has no `matrix`"]);
  });

  it("an image that a matrix value makes invalid", () => {
    expect(error(yml("jobs:", "  a:", "    run: x", '    image: "node:${{ matrix.v }}"', '    matrix: { v: ["22", "2 2"] }'))).toMatchObject({
      at: "4:18",
      message: "`image` is `node:2 2` in `a (2 2)`, not a container image name",
    });
  });

  it("more than 256 combinations: error at the matrix key, before any is built", () => {
    const list = (n: number) => `[${Array.from({ length: n }, (_, i) => i).join(", ")}]`;
    expect(error(yml("jobs:", "  big:", "    run: x", "    matrix:", `      a: ${list(16)}`, `      b: ${list(17)}`))).toMatchObject({
      at: "4:5",
      message: "the matrix of job `big` makes 272 combinations, more than the limit of 256",
    });
    // Far past what YACI enumerates: refused from the count alone.
    const huge = yml("jobs:", "  big:", "    run: x", "    matrix:", ...["a", "b", "c", "d", "e", "f", "g", "h"].map((k) => `      ${k}: ${list(10)}`));
    expect(error(huge).message).toBe("the matrix of job `big` makes over a million combinations, more than the limit of 256");
    // `exclude` counts: 272 - 17 = 255 combinations are fine.
    expect(jobs(yml("jobs:", "  big:", "    run: x", "    matrix:", `      a: ${list(16)}`, `      b: ${list(17)}`, "      exclude: [{ a: 0 }]"))).toHaveLength(255);
  });

  it("at most 256 jobs in all once the matrices are expanded", () => {
    const list = `[${Array.from({ length: 200 }, (_, i) => i).join(", ")}]`;
    expect(error(yml("jobs:", "  a:", "    run: x", `    matrix: { v: ${list} }`, "  b:", "    run: x", `    matrix: { v: ${list} }`))).toMatchObject({
      at: "7:5",
      message: "with the combinations of its matrices, `jobs` makes more than 256 jobs",
    });
  });

  it("an empty matrix, an empty list, a matrix that excludes everything", () => {
    expect(error(yml("jobs:", "  a: { run: x, matrix: {} }"))).toMatchObject({ at: "2:24", message: "`jobs.a.matrix` has no keys, so it makes no combinations" });
    expect(error(yml("jobs:", "  a:", "    run: x", "    matrix: { node: [], db: [pg] }"))).toEqual({
      at: "4:21",
      message: "`jobs.a.matrix.node` is an empty list, so the matrix has no combinations",
      hint: 'List at least one value, e.g. `node: ["1"]`, or remove `node`.',
    });
    expect(error(yml("jobs:", "  a:", "    run: x", "    matrix: { v: [1], exclude: [{ v: 1 }] }"))).toMatchObject({ at: "4:5", message: "the matrix of job `a` excludes every combination" });
  });

  it("wrong types: values, lists, include and exclude", () => {
    expect(error(yml("jobs:", "  a: { run: x, matrix: [20, 22] }")).message).toBe("`jobs.a.matrix` must be a mapping of keys to lists of values, got a list");
    expect(error(yml("jobs:", "  a: { run: x, matrix: { node: 20 } }"))).toMatchObject({ at: "2:32", message: "`jobs.a.matrix.node` must be a list of values, got `20`" });
    expect(error(yml("jobs:", "  a: { run: x, matrix: { node: [[20]] } }"))).toMatchObject({ at: "2:33", message: "`jobs.a.matrix.node[0]` must be a string, number or boolean, got a list" });
    expect(error(yml("jobs:", "  a: { run: x, matrix: { node: [20], include: { node: 22 } } }"))).toMatchObject({
      at: "2:47",
      message: "`jobs.a.matrix.include` must be a list of combinations, got a mapping",
    });
    expect(error(yml("jobs:", "  a: { run: x, matrix: { node: [20], exclude: [20] } }"))).toMatchObject({
      at: "2:48",
      message: "`jobs.a.matrix.exclude[0]` must be a mapping of matrix keys to values, got `20`",
    });
    expect(error(yml("jobs:", "  a: { run: x, matrix: { node: [20], exclude: [{ nod: 20 }] } }"))).toEqual({
      at: "2:50",
      message: "`exclude` key `nod` is not a key of the matrix",
      hint: "Did you mean `node`?",
    });
    expect(error(yml("jobs:", "  a: { run: x, matrix: { node: [20], include: [{}] } }"))).toMatchObject({ at: "2:48", message: "`jobs.a.matrix.include[0]` is empty" });
    expect(error(yml("jobs:", "  a: { run: x, matrix: { node: [null] } }"))).toMatchObject({ at: "2:33", message: "`jobs.a.matrix.node[0]` must be a string, number or boolean, got an empty value" });
    expect(error(yml("jobs:", '  a: { run: x, matrix: { node: ["a\\nb"] } }'))).toMatchObject({ at: "2:33", message: "`jobs.a.matrix.node[0]` must be one line of text, got `a⏎b`" });
  });

  it("bad keys: names, and two keys that make the same variable", () => {
    expect(error(yml("jobs:", '  a: { run: x, matrix: { "no de": [1] } }'))).toMatchObject({ at: "2:26", message: "matrix key `no de` is not valid" });
    expect(error(yml("jobs:", "  a: { run: x, matrix: { node-v: [1], node_v: [2] } }"))).toMatchObject({
      at: "2:39",
      message: "matrix keys `node-v` and `node_v` both become the variable `MATRIX_NODE_V`",
    });
    expect(error(yml("jobs:", "  a:", "    run: x", "    env: { MATRIX_OS: linux }", "    matrix: { os: [a] }"))).toMatchObject({ at: "4:12", message: "`MATRIX_OS` is set by the matrix of job `a`" });
  });

  it("combination names: unique without case, at most 63 characters", () => {
    expect(error(yml("jobs:", "  a:", "    run: x", "    matrix: { os: [Linux, linux] }"))).toMatchObject({
      at: "4:5",
      message: "matrix combinations `a (Linux)` and `a (linux)` have the same name",
    });
    expect(error(yml("jobs:", "  a:", "    run: x", "    matrix: { os: [a], include: [{ os: b }, { os: b }] }")).message).toBe("matrix combinations `a (b)` and `a (b)` have the same name");
    expect(error(yml("jobs:", "  a:", "    run: x", `    matrix: { v: [${"x".repeat(60)}] }`))).toMatchObject({ at: "4:5", message: expect.stringContaining("is 64 characters long, more than 63") });
  });
});

describe("matrix include and exclude: GitHub Actions' documented examples", () => {
  const cases: Array<[string, string[], Array<Record<string, string>>]> = [
    [
      "include extends a matching combination",
      ["os: [windows-latest, ubuntu-latest]", "node: [14, 16]", "include:", "  - os: windows-latest", "    node: 16", "    npm: 6"],
      [
        { os: "windows-latest", node: "14" },
        { os: "windows-latest", node: "16", npm: "6" },
        { os: "ubuntu-latest", node: "14" },
        { os: "ubuntu-latest", node: "16" },
      ],
    ],
    [
      "include that changes an original value adds a combination",
      ["os: [windows-latest, ubuntu-latest]", "node: [14, 16]", "include:", "  - os: windows-latest", "    node: 17"],
      [
        { os: "windows-latest", node: "14" },
        { os: "windows-latest", node: "16" },
        { os: "ubuntu-latest", node: "14" },
        { os: "ubuntu-latest", node: "16" },
        { os: "windows-latest", node: "17" },
      ],
    ],
    [
      "fruit and animal: added values may be overwritten, original ones never",
      ["fruit: [apple, pear]", "animal: [cat, dog]", "include:", "  - color: green", "  - color: pink", "    animal: cat", "  - fruit: apple", "    shape: circle", "  - fruit: banana", "  - fruit: banana", "    animal: cat"],
      [
        { fruit: "apple", animal: "cat", color: "pink", shape: "circle" },
        { fruit: "apple", animal: "dog", color: "green", shape: "circle" },
        { fruit: "pear", animal: "cat", color: "pink" },
        { fruit: "pear", animal: "dog", color: "green" },
        { fruit: "banana" },
        { fruit: "banana", animal: "cat" },
      ],
    ],
    [
      "exclude: partial matches remove every matching combination",
      ["os: [macos-latest, windows-latest]", "version: [12, 14, 16]", "environment: [staging, production]", "exclude:", "  - os: macos-latest", "    version: 12", "    environment: production", "  - os: windows-latest", "    version: 16"],
      [
        { os: "macos-latest", version: "12", environment: "staging" },
        { os: "macos-latest", version: "14", environment: "staging" },
        { os: "macos-latest", version: "14", environment: "production" },
        { os: "macos-latest", version: "16", environment: "staging" },
        { os: "macos-latest", version: "16", environment: "production" },
        { os: "windows-latest", version: "12", environment: "staging" },
        { os: "windows-latest", version: "12", environment: "production" },
        { os: "windows-latest", version: "14", environment: "staging" },
        { os: "windows-latest", version: "14", environment: "production" },
      ],
    ],
    [
      "only include: one combination per entry",
      ["include:", "  - site: production", "    datacenter: site-a", "  - site: staging", "    datacenter: site-b"],
      [
        { site: "production", datacenter: "site-a" },
        { site: "staging", datacenter: "site-b" },
      ],
    ],
    [
      "include adds back an excluded combination (exclude runs first)",
      ["os: [linux, mac]", "node: [20, 22]", "exclude:", "  - os: mac", "include:", "  - os: mac", "    node: 22"],
      [
        { os: "linux", node: "20" },
        { os: "linux", node: "22" },
        { os: "mac", node: "22" },
      ],
    ],
  ];

  it.each(cases)("%s", (_, matrix, expected) => {
    const js = jobs(yml("jobs:", "  test:", "    run: x", "    matrix:", ...matrix.map((l) => `      ${l}`)));
    expect(js.map((j) => j.matrix)).toEqual(expected);
    // Names list the values in key order (the matrix's keys, then those only `include` adds).
    expect(js.map((j) => j.name)).toEqual(expected.map((c) => `test (${Object.values(c).join(", ")})`));
  });

  it("names and MATRIX_* variables of include-only keys", () => {
    const js = jobs(yml("jobs:", "  t:", "    run: x", "    matrix:", "      fruit: [apple, pear]", "      include: [{ color: green }, { fruit: banana, shape: round }]"));
    expect(js.map((j) => j.name)).toEqual(["t (apple, green)", "t (pear, green)", "t (banana, round)"]);
    expect(js[2]!.env).toEqual({ MATRIX_FRUIT: "banana", MATRIX_SHAPE: "round" });
  });
});

describe("secrets", () => {
  it("a job gets the top-level secrets then its own, each once", () => {
    const js = jobs(yml("secrets: [NPM_TOKEN, SHARED]", "jobs:", "  a: { run: x }", "  b: { run: x, secrets: [DEPLOY_KEY, NPM_TOKEN] }", "  c:", "    run: x", "    secrets: ONE"));
    expect(js.map((j) => j.secrets)).toEqual([
      ["NPM_TOKEN", "SHARED"],
      ["NPM_TOKEN", "SHARED", "DEPLOY_KEY"],
      ["NPM_TOKEN", "SHARED", "ONE"],
    ]);
    expect(js[0]!.env).toEqual({});
  });

  it("the short form and matrix combinations get them too; no secrets: no field", () => {
    expect(jobs(yml("run: x", "secrets: [A]"))[0]!.secrets).toEqual(["A"]);
    expect(jobs(yml("jobs:", "  t: { run: x, secrets: [A], matrix: { v: [1, 2] } }")).map((j) => j.secrets)).toEqual([["A"], ["A"]]);
    expect(jobs(yml("run: x"))[0]).not.toHaveProperty("secrets");
  });

  it("names follow the env name rules: error at the entry", () => {
    expect(error(yml("run: x", "secrets: [GOOD, 1BAD]"))).toEqual({
      at: "2:17",
      message: "secret name `1BAD` is not valid",
      hint: "A secret becomes an environment variable of the job. Use letters, digits and `_` only, not starting with a digit, e.g. `NPM_TOKEN`.",
    });
    expect(error(yml("jobs:", "  a:", "    run: x", "    secrets:", '      - "MY-TOKEN"'))).toMatchObject({ at: "5:9", message: "secret name `MY-TOKEN` is not valid" });
    expect(error(yml("run: x", `secrets: [${"A".repeat(300)}]`)).message).toContain("is 300 characters long, more than 256");
  });

  it("names YACI sets are reserved", () => {
    for (const [name, why] of [
      ["PATH", "YACI sets `PATH` in every job"],
      ["home", "YACI sets `home` in every job"],
      ["YACI_SHA", "YACI sets the `YACI_*` variables in every job"],
      ["MATRIX_NODE", "`MATRIX_*` variables hold the values of a job's `matrix`"],
    ]) {
      expect(error(yml("run: x", `secrets: [${name}]`))).toMatchObject({ at: "2:11", message: `secret name \`${name}\` is reserved: ${why}` });
    }
  });

  it("a secret that is also in the job's env is an error, at the secret", () => {
    expect(error(yml("secrets: [TOKEN]", "env: { TOKEN: x }", "run: x"))).toEqual({
      at: "1:11",
      message: "secret `TOKEN` is also set in the top-level `env`",
      hint: "Remove `TOKEN` from `env` or from `secrets`: the secret's value is given to the job as `$TOKEN`.",
    });
    expect(error(yml("jobs:", "  a:", "    run: x", "    env: { TOKEN: x }", "    secrets: [OTHER, TOKEN]"))).toMatchObject({ at: "5:22", message: "secret `TOKEN` is also set in the `env` of job `a`" });
  });

  it("wrong types and too many", () => {
    expect(error(yml("run: x", "secrets: { A: 1 }"))).toMatchObject({ at: "2:10", message: "`secrets` must be a list of secret names, got a mapping" });
    expect(error(yml("run: x", "secrets: [1]"))).toMatchObject({ at: "2:11", message: "`secrets[0]` must be a secret name, got `1`" });
    const many = Array.from({ length: 101 }, (_, i) => `S${i}`).join(", ");
    expect(error(yml("run: x", `secrets: [${many}]`))).toMatchObject({ at: "2:10", message: "`secrets` lists 101 secrets, more than the limit of 100" });
  });
});
