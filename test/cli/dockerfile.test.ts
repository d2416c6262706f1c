import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DockerfileParser, type Instruction } from "dockerfile-ast";
import { describe, expect, it } from "vitest";
import { ROOT } from "./yaci-process.js";

const dockerfile = DockerfileParser.parse(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
const stages = dockerfile.getFROMs();
/** The instructions of the last stage: the image that ships. */
const final: Instruction[] = dockerfile.getInstructions().filter((i) => i.getRange().start.line > stages.at(-1)!.getRange().start.line);
const all = (keyword: string) => final.filter((i) => i.getKeyword() === keyword);
const args = (i: Instruction) => i.getArguments().map((a) => a.getValue());
/** `--name=value` flags of COPY, HEALTHCHECK… as parsed. */
const flags = (i: Instruction) =>
  Object.fromEntries((i as unknown as { getFlags(): Array<{ getName(): string; getValue(): string | null }> }).getFlags().map((f) => [f.getName(), f.getValue()]));

describe("the Dockerfile (parsed with dockerfile-ast)", () => {
  it("is multi-stage: the build stage compiles, the final stage copies lib/ from it", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const build = stages[0]!.getBuildStage();
    expect(build).toBeTruthy();
    expect(all("COPY").some((c) => flags(c).from === build && args(c)[0] === "/app/lib")).toBe(true);
    expect(all("RUN").some((r) => args(r).join(" ").includes("--omit=dev"))).toBe(true);
  });

  it("runs as a non-root USER", () => {
    const users = all("USER").map((u) => args(u)[0]);
    expect(users.length).toBeGreaterThan(0);
    expect(["root", "0", "0:0"]).not.toContain(users.at(-1));
  });

  it("has a HEALTHCHECK against /healthz", () => {
    const checks = all("HEALTHCHECK");
    expect(checks).toHaveLength(1);
    const text = args(checks[0]!).join(" ");
    expect(text).toMatch(/\bCMD\b/);
    expect(text).toContain("/healthz");
    expect(flags(checks[0]!)).toMatchObject({ interval: expect.stringMatching(/^\d+s$/), timeout: expect.stringMatching(/^\d+s$/) });
  });

  it("starts the app under an init (tini) that forwards signals and reaps orphans", () => {
    const entry = all("ENTRYPOINT").at(-1);
    expect(entry).toBeDefined();
    expect(args(entry!)[0]).toMatch(/tini"?,?$/);
    expect(all("RUN").some((r) => /apk add\b.*\btini\b/.test(args(r).join(" ")))).toBe(true);
    expect(args(all("CMD").at(-1)!).join(" ")).toContain("lib/main.js");
  });

  it("keeps the local executor's sandbox: bubblewrap and YACI_LOCAL_SANDBOX=required", () => {
    expect(all("RUN").some((r) => /apk add\b.*\bbubblewrap\b/.test(args(r).join(" ")))).toBe(true);
    expect(all("ENV").some((e) => args(e).includes("YACI_LOCAL_SANDBOX=required"))).toBe(true);
  });

  it("carries org.opencontainers.image labels", () => {
    const labels = all("LABEL").flatMap((l) => (l as unknown as { getProperties(): Array<{ getName(): string }> }).getProperties().map((p) => p.getName()));
    expect(labels).toEqual(expect.arrayContaining(["org.opencontainers.image.title", "org.opencontainers.image.description", "org.opencontainers.image.version", "org.opencontainers.image.licenses"]));
  });
});

describe(".dockerignore", () => {
  const lines = readFileSync(join(ROOT, ".dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));

  it.each(["node_modules", ".git", ".yaci", ".env"])("leaves %s out of the build context", (path) => {
    expect(lines.some((l) => l === path || l === `/${path}` || l === `${path}/`)).toBe(true);
    expect(lines.filter((l) => l.startsWith("!")).map((l) => l.slice(1))).not.toContain(path);
  });

  it("keeps what the Dockerfile copies", () => {
    const copied = dockerfile
      .getInstructions()
      .filter((i) => i.getKeyword() === "COPY" && flags(i).from === undefined)
      .flatMap((i) => args(i).slice(0, -1));
    expect(copied).toEqual(expect.arrayContaining(["package.json", "src", "bin"]));
    expect(copied.filter((c) => lines.includes(c))).toEqual([]);
  });
});
