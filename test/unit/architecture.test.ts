import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = new URL("../../src/", import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

function imports(file: string): string[] {
  return [...readFileSync(file, "utf8").matchAll(/^\s*(?:import|export)[^"']*from\s+["']([^"']+)["']/gm)].map((m) => m[1]!);
}

// The dependency rule of docs (ARCHITECTURE): the pure core knows no I/O adapter.
describe("dependency rule", () => {
  it.each(["core", "config", "logs"])("src/%s imports no adapter, SDK or process module", (folder) => {
    const forbidden = /(^|\/)(github|executors|http|runs|observability)\/|^probot$|^@octokit\/|^@kubernetes\/|^node:child_process$/;
    const offenders = files(join(SRC, folder)).flatMap((f) => imports(f).filter((i) => forbidden.test(i)).map((i) => `${f.slice(SRC.length)} → ${i}`));
    expect(offenders).toEqual([]);
  });

  it("executors do not import each other, GitHub or HTTP code", () => {
    const offenders = files(join(SRC, "executors")).flatMap((f) => {
      const mine = f.includes("/kubernetes/") ? "kubernetes" : f.includes("/local/") ? "local" : "port";
      return imports(f)
        .filter((i) => /(^|\/)(github|http|runs)\//.test(i) || (mine === "local" && i.includes("kubernetes/")) || (mine === "kubernetes" && i.includes("local/")))
        .map((i) => `${f.slice(SRC.length)} → ${i}`);
    });
    expect(offenders).toEqual([]);
  });
});
