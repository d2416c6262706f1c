/**
 * The cost of parsing hostile `.yaci.yml` files: every file within the limits (CONFIG_LIMITS in
 * src/config/config-limits.ts) should parse, or be refused, in well under 100 ms; files past them
 * are refused before the YAML parser runs. Prints the median and the worst of several parses.
 * Then branch filters: the pattern and the branch name both come from the pusher, so the
 * worst patterns against the longest names must stay far below a millisecond.
 * Usage: node --import tsx bench/config-parse.ts [repeats=7]
 */
import { cpus, totalmem } from "node:os";
import { branchMatches } from "../src/config/branch-filter.js";
import { CONFIG_LIMITS } from "../src/config/config-limits.js";
import { parseConfig } from "../src/config/parse-config.js";

const T = CONFIG_LIMITS.tokens;
const repeat = (unit: (i: number) => string, n: number) => Array.from({ length: n }, (_, i) => unit(i)).join("");
/** Fills up to `bytes` with `unit`. */
const fill = (unit: (i: number) => string, bytes: number, head = "") => {
  const parts = [head];
  let len = head.length;
  for (let i = 0; len < bytes; i++) {
    const u = unit(i);
    parts.push(u);
    len += u.length;
  }
  return parts.join("").slice(0, bytes);
};

const inputs: Record<string, () => string> = {
  // The three inputs of issue 11.
  "10,000 duplicate keys (50 KB)": () => `run: x\n${repeat(() => "k: 1\n", 10_000)}`,
  "20,000 jobs (578 KB)": () => `jobs:\n${repeat((i) => `  job-${String(i).padStart(5, "0")}:\n    run: npm test\n`, 20_000)}`,
  "2,000 unclosed quotes": () => repeat((i) => `k${i}: "abc\n`, 2_000),
  // At the limits.
  [`256 jobs, each with env and resources`]: () =>
    `env: { CI: "true" }\njobs:\n${repeat((i) => `  job${i}:\n    run: |\n      npm ci\n      npm test\n    timeout: 10m\n    env: { A: "1", B: "2" }\n    resources: { cpu: 500m, memory: 1Gi }\n`, CONFIG_LIMITS.jobs)}`,
  [`${T} unknown keys`]: () => repeat((i) => `k${i}: 1\n`, T),
  [`${T} duplicate keys`]: () => `run: x\n${repeat(() => "k: 1\n", T - 1)}`,
  [`${T} flow items`]: () => `run: x\nk: [${repeat(() => "1,", T - 3)}1]\n`,
  [`${T} list items`]: () => `run: x\nk:\n${repeat(() => "- 1\n", T - 3)}`,
  [`${T} comments`]: () => `run: x\n${repeat(() => "#\n", T - 1)}`,
  [`${T / 2} unclosed quotes`]: () => repeat((i) => `k${i}: "abc\n`, T / 2),
  [`${T} syntax errors`]: () => repeat(() => "]\n", T),
  [`${T} bad env names`]: () => `run: x\nenv:\n${repeat((i) => `  ${i}x: y\n`, T - 2)}`,
  [`${CONFIG_LIMITS.jobs} jobs with bad names and values`]: () => `jobs:\n${repeat((i) => `  "bad name ${i}": { run: [1], timeout: 7h, image: "a b", env: { "=": 1 } }\n`, CONFIG_LIMITS.jobs)}`,
  // Pipelines (issue 14): matrices expanded to the job limit, expressions filled in, needs resolved.
  [`a ${CONFIG_LIMITS.matrixCombinations}-combination matrix with expressions`]: () =>
    `env:\n${repeat((i) => `  E${i}: "${"x".repeat(1800)}\${{ matrix.a }}"\n`, 60)}jobs:\n  t:\n    image: "node:\${{ matrix.a }}"\n    matrix: { a: [${repeat((i) => `v${i}, `, 16)}], b: [${repeat((i) => `w${i}, `, 16)}] }\n    run: |\n${repeat(() => "      echo ${{ matrix.a }} ${{ matrix.b }}\n", (CONFIG_LIMITS.matrixExpressions - 61) >> 1)}`,
  [`${CONFIG_LIMITS.jobs - 16} jobs needing a 16-combination matrix job`]: () =>
    `jobs:\n  m: { run: x, matrix: { a: [${repeat((i) => `v${i}, `, 16)}] } }\n${repeat((i) => `  j${i}: { run: x, needs: [m${i > 0 ? `, j${i - 1}` : ""}] }\n`, CONFIG_LIMITS.jobs - 17)}`,
  [`${CONFIG_LIMITS.jobs} jobs needing unknown jobs`]: () => `jobs:\n${repeat((i) => `  j${i}: { run: x, needs: [job${i}, k${i}, l${i}] }\n`, CONFIG_LIMITS.jobs)}`,
  [`a ${CONFIG_LIMITS.jobs}-job cycle`]: () => `jobs:\n${repeat((i) => `  j${i}: { run: x, needs: j${(i + 1) % CONFIG_LIMITS.jobs} }\n`, CONFIG_LIMITS.jobs)}`,
  "100 aliases of a big mapping": () => `x: &a { ${repeat((i) => `k${i}: ${i}, `, 150)} }\njobs:\n${repeat((i) => `  j${i}: *a\n`, 100)}`,
  "billion laughs": () => `a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\nrun: x\n`,
  "nesting at the depth limit": () => `run: x\nk: ${"[".repeat(CONFIG_LIMITS.depth - 2)}${"]".repeat(CONFIG_LIMITS.depth - 2)}\n`,
  "100,000 open brackets": () => `run: x\nk: ${"[".repeat(100_000)}\n`,
  [`a ${CONFIG_LIMITS.fileBytes / 1024} KiB run script`]: () => fill(() => "  echo hello world\n", CONFIG_LIMITS.fileBytes, "run: |\n"),
  "a 64 KiB job name": () => `jobs:\n  ${"a".repeat(65_536)}:\n    run: x\n`,
  "branch patterns at the limits": () => `on:\n  push:\n    branches: [${repeat(() => `"${"*a".repeat(120)}!", `, CONFIG_LIMITS.branchPatterns - 1)}main]\nrun: x\n`,
  "10 MB run (over the size limit)": () => `run: "${"x".repeat(10_000_000)}"\n`,
};

const runs = Number(process.argv[2] ?? 7);
console.log(`config parse — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB; ${runs} parses each`);
// Warm the JIT on a small valid file so the first input does not pay for it.
for (let i = 0; i < 20; i++) parseConfig("jobs:\n  a: { run: x, timeout: 5m }\n");
let worst = 0;
for (const [name, make] of Object.entries(inputs)) {
  const text = make();
  const times: number[] = [];
  let result = parseConfig(text);
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    result = parseConfig(text);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  worst = Math.max(worst, times.at(-1)!);
  const answer = result.ok ? `ok, ${result.config.jobs.length} job(s)` : `${result.errors.length}${result.omitted ? `+${result.omitted}` : ""} error(s): ${result.errors[0]!.message.slice(0, 70)}`;
  console.log(`${name.padEnd(44)} ${(text.length / 1024).toFixed(0).padStart(6)} KiB  median ${times[times.length >> 1]!.toFixed(1).padStart(6)} ms  max ${times.at(-1)!.toFixed(1).padStart(6)} ms  ${answer}`);
}
console.log(`slowest parse: ${worst.toFixed(1)} ms`);

const globs: Array<[string, string, string]> = [
  ["*a*a*a*a*a*a*a*a! vs 40 × a (290 ms with a RegExp)", "*a*a*a*a*a*a*a*a!", "a".repeat(40)],
  ["(*a)×127! vs 255 × a", `${"*a".repeat(127)}!`, "a".repeat(255)],
  ["(**a)×85! vs 255 × a/", `${"**a".repeat(85)}!`, "a/".repeat(127)],
  ["release/** vs a 255-character branch", "release/**", `release/${"x".repeat(247)}`],
];
for (const [name, pattern, branch] of globs) {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    branchMatches(pattern, branch);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  console.log(`glob ${name.padEnd(52)} median ${times[times.length >> 1]!.toFixed(3).padStart(7)} ms  max ${times.at(-1)!.toFixed(3).padStart(7)} ms`);
}
