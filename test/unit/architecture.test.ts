import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = new URL("../../src/", import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

interface Import {
  spec: string;
  /** `import type …` / `export type …`: erased at run time, but still a dependency for a reader. */
  typeOnly: boolean;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, "utf8");
  const out: Import[] = [];
  // Static imports and re-exports, over several lines: `import { a,\n b } from "x"`, `import type …`.
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?([^;]*?)\s+from\s+["']([^"']+)["']/gms)) {
    const names = m[3]!;
    // `import { type A, type B }` imports no value either.
    const allTypes = !!m[2] || (/^\{[^}]*\}$/s.test(names.trim()) && names.replace(/[{}\s]/g, "").split(",").filter(Boolean).every((n) => n.startsWith("type")));
    out.push({ spec: m[4]!, typeOnly: allTypes });
  }
  for (const m of text.matchAll(/^\s*import\s+["']([^"']+)["']/gm)) out.push({ spec: m[1]!, typeOnly: false });
  for (const m of text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) out.push({ spec: m[1]!, typeOnly: false });
  return out;
}

function imports(file: string): string[] {
  return importsOf(file).map((i) => i.spec);
}

/** The src/ file a relative import names, or undefined for packages and node: modules. */
function resolveImport(from: string, spec: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  return resolve(dirname(from), spec.replace(/\.js$/, ".ts"));
}

const rel = (f: string) => f.slice(SRC.length);
const ALL = files(SRC);

// The dependency rule of docs (ARCHITECTURE): the pure core knows no I/O adapter.
describe("dependency rule", () => {
  it.each(["core", "config", "logs"])("src/%s imports no adapter, SDK or process module", (folder) => {
    const forbidden = /(^|\/)(github|executors|http|runs|observability)\/|^probot$|^@octokit\/|^@kubernetes\/|^node:child_process$/;
    const offenders = files(join(SRC, folder)).flatMap((f) => imports(f).filter((i) => forbidden.test(i)).map((i) => `${rel(f)} → ${i}`));
    expect(offenders).toEqual([]);
  });

  it("executors do not import each other, GitHub or HTTP code", () => {
    const offenders = files(join(SRC, "executors")).flatMap((f) => {
      const mine = f.includes("/kubernetes/") ? "kubernetes" : f.includes("/local/") ? "local" : "port";
      return imports(f)
        .filter((i) => /(^|\/)(github|http|runs)\//.test(i) || (mine === "local" && i.includes("kubernetes/")) || (mine === "kubernetes" && i.includes("local/")))
        .map((i) => `${rel(f)} → ${i}`);
    });
    expect(offenders).toEqual([]);
  });

  it("core/ imports no value from config/ (types only)", () => {
    const offenders = files(join(SRC, "core")).flatMap((f) =>
      importsOf(f)
        .filter((i) => /(^|\/)config\//.test(i.spec) && !i.typeOnly)
        .map((i) => `${rel(f)} → ${i.spec}`),
    );
    expect(offenders).toEqual([]);
  });
});

// The pure set: modules with no I/O at all (no file system, network, processes, clock of their own).
// They are table-tested. A logs/ module that touches the file system is an adapter, not part of it.
const PURE = /^(core\/|config\/|logs\/(excerpt|annotations|secret-masker)\.ts$)/;
const IO_MODULES = /^(node:)?(fs|fs\/promises|child_process|net|http|https|dgram|worker_threads)$/;

describe("the pure set", () => {
  it("does no I/O: no file system, network or process module", () => {
    const offenders = ALL.filter((f) => PURE.test(rel(f))).flatMap((f) =>
      imports(f)
        .filter((i) => IO_MODULES.test(i))
        .map((i) => `${rel(f)} → ${i}`),
    );
    expect(offenders).toEqual([]);
  });

  it("leaves out every logs/ module that touches the file system", () => {
    const touching = files(join(SRC, "logs")).filter((f) => imports(f).some((i) => IO_MODULES.test(i)));
    // The store and retention do touch it (so the check above is not vacuous for logs/)…
    expect(touching.map(rel)).toEqual(expect.arrayContaining(["logs/log-store.ts"]));
    // …and none of them is in the pure set.
    expect(touching.map(rel).filter((f) => PURE.test(f))).toEqual([]);
  });
});

/** Every cycle in an import graph (file → the files it imports), each named by its files. */
function findCycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, "open");
    stack.push(f);
    for (const t of graph.get(f) ?? []) {
      if (state.get(t) === "open") found.push(stack.slice(stack.indexOf(t)).concat(t));
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(f, "done");
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return found;
}

function srcGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of ALL) graph.set(rel(f), importsOf(f).flatMap((i) => resolveImport(f, i.spec) ?? []).map(rel));
  return graph;
}

describe("modules", () => {
  it("have no import cycles in src/ (type imports included)", () => {
    const graph = srcGraph();
    // The graph is real: the composition root imports the scheduler, which imports the core.
    expect(graph.get("deps.ts")).toContain("runs/scheduler.ts");
    expect(findCycles(graph)).toEqual([]);
  });

  it("the cycle finder names a cycle, type imports included", () => {
    const graph = new Map([
      ["a.ts", ["b.ts"]],
      ["b.ts", ["c.ts"]],
      ["c.ts", ["a.ts"]],
      ["d.ts", ["a.ts"]],
    ]);
    expect(findCycles(graph)).toEqual([["a.ts", "b.ts", "c.ts", "a.ts"]]);
    expect(findCycles(new Map([["a.ts", ["b.ts"]], ["b.ts", []]]))).toEqual([]);
  });
});

describe("module sizes (a module per concept)", () => {
  const lines = (f: string) => readFileSync(f, "utf8").split("\n").length;
  const graph = srcGraph();
  const importers = (f: string) => [...graph.values()].filter((targets) => targets.includes(f)).length;

  // About 70 after the module cut (issue 9); pipelines and secrets (issue 14) add their own concepts.
  it("src/ holds about 80 files at most", () => {
    expect(ALL.length).toBeLessThanOrEqual(82);
  });

  it("no file over 450 lines: past that, look for a second concept inside", () => {
    expect(ALL.filter((f) => lines(f) > 450).map(rel)).toEqual([]);
  });

  it("no file under 20 lines unless at least three modules import it (entry points aside)", () => {
    const tiny = ALL.map(rel).filter((f) => !["main.ts", "index.ts"].includes(f) && lines(join(SRC, f)) < 20 && importers(f) < 3);
    expect(tiny).toEqual([]);
  });
});
