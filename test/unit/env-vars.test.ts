import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = new URL("../../", import.meta.url).pathname;

function files(dir: string, ext: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p, ext) : p.endsWith(ext) ? [p] : [];
  });
}

const NAME = "[A-Z][A-Z0-9_]*";
/** Not a read: `env.X = …`, `env.X ??= …` (a job's environment being built). */
const NOT_ASSIGNED = String.raw`(?!\s*(?:=(?!=)|\?\?=))`;

/** Every environment variable a source file reads, with the files that read it. */
function variablesRead(sources: string[]): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  const add = (name: string, file: string) => found.set(name, (found.get(name) ?? new Set()).add(file.slice(ROOT.length)));
  const patterns = [
    // `env.X`, `process.env.X`, `this.env.X`…
    new RegExp(String.raw`\benv\.(${NAME})\b${NOT_ASSIGNED}`, "g"),
    // `env["X"]`, `process.env['X']`
    new RegExp(String.raw`\benv\[\s*["'](${NAME})["']\s*\]${NOT_ASSIGNED}`, "g"),
    // names passed to helper readers: `positiveInt(env, "YACI_X", …)`, `parseEnvDuration("YACI_X", …)`
    new RegExp(String.raw`\b[A-Za-z_$][\w$]*\(\s*(?:[\w.]+\s*,\s*)?["']([A-Z][A-Z0-9]*_[A-Z0-9_]+)["']`, "g"),
  ];
  for (const file of sources) {
    const text = readFileSync(file, "utf8");
    for (const re of patterns) for (const m of text.matchAll(re)) add(m[1]!, file);
  }
  return found;
}

/** Set by the system or the platform, never by an operator: not documented as settings. */
const PLATFORM = new Set(["PATH", "HOME", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"]);

/** `NAME=` lines of .env.example, commented out or not. */
function envExample(): Set<string> {
  const text = readFileSync(join(ROOT, ".env.example"), "utf8");
  return new Set([...text.matchAll(new RegExp(`^#?\\s*(${NAME})=`, "gm"))].map((m) => m[1]!));
}

/** Names in the first column of the Markdown tables of a file (`` `YACI_X` ``, `` `A`, `B` / `C` ``). */
function tableNames(file: string): Set<string> {
  const names = new Set<string>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const cell = /^\|([^|]*)\|/.exec(line)?.[1];
    if (!cell) continue;
    for (const m of cell.matchAll(new RegExp("`(" + NAME + ")`", "g"))) if (m[1]!.includes("_") || /^[A-Z]{4,}$/.test(m[1]!)) names.add(m[1]!);
  }
  return names;
}

const read = variablesRead(files(join(ROOT, "src"), ".ts"));
const settings = [...read.keys()].filter((n) => !PLATFORM.has(n)).sort();
const example = envExample();
const docFiles = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
const tables = new Map(docFiles.map((f) => [f, tableNames(join(ROOT, f))] as const));
const inTables = new Set([...tables.values()].flatMap((s) => [...s]));
/** Variables Probot itself reads (its own source): documented settings that src/ need not read. */
const probot = variablesRead(files(join(ROOT, "node_modules/probot/lib"), ".js"));
const readByProbot = new Set([...probot.keys(), "PRIVATE_KEY"]); // PRIVATE_KEY: @probot/get-private-key

describe("environment variables: code, .env.example and the docs agree", () => {
  it("the scan finds what the code reads (including names passed to helper readers)", () => {
    expect(settings).toEqual(expect.arrayContaining(["YACI_DATA_DIR", "YACI_LOCAL_CONCURRENCY", "YACI_LINK_TTL", "YACI_MAX_CPU", "NO_COLOR"]));
    // A job's own variables are written, not read: they are not settings.
    expect(settings).not.toContain("YACI_JOB");
  });

  it("every variable the code reads is in .env.example", () => {
    expect(settings.filter((n) => !example.has(n))).toEqual([]);
  });

  it("every variable the code reads is in a table of the README or docs/*.md", () => {
    expect(settings.filter((n) => !inTables.has(n))).toEqual([]);
  });

  it("nothing documented is stale: every variable of .env.example and the tables is read by YACI or Probot", () => {
    const documented = new Set([...example, ...inTables]);
    expect([...documented].filter((n) => !read.has(n) && !readByProbot.has(n)).sort()).toEqual([]);
  });
});
