import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { isMap, parseDocument } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { yaciConfigJsonSchema } from "../../src/config/schema.js";
import { ROOT, yaci } from "./yaci-process.js";

const committed = readFileSync(join(ROOT, "schema/yaci.schema.json"), "utf8");

describe("schema/yaci.schema.json", () => {
  it("is exactly what the zod schema generates (refresh it with `npm run schema`)", () => {
    expect(committed).toBe(`${JSON.stringify(yaciConfigJsonSchema(), null, 2)}\n`);
  });

  it("is what `yaci schema` prints", async () => {
    const r = await yaci(["schema"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(committed);
  });

  it("describes every property, and gives the defaults a user gets by leaving a key out", () => {
    const undescribed: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (!node || typeof node !== "object") return;
      const n = node as Record<string, unknown>;
      for (const [key, child] of Object.entries((n.properties ?? {}) as Record<string, Record<string, unknown>>)) {
        if (typeof child.description !== "string" || child.description.length < 10) undescribed.push(`${path}.${key}`);
        walk(child, `${path}.${key}`);
      }
      for (const k of ["anyOf", "oneOf", "items", "additionalProperties"]) {
        const c = n[k];
        if (Array.isArray(c)) c.forEach((x) => walk(x, path));
        else walk(c, `${path}${k === "additionalProperties" ? ".*" : ""}`);
      }
    };
    const schema = JSON.parse(committed) as { properties: Record<string, { default?: unknown }> };
    walk(schema, "");
    expect(undescribed).toEqual([]);
    expect(Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, v.default]))).toEqual({
      version: 1,
      image: "alpine:3.20",
      timeout: "1h",
      env: {},
      on: ["push", "pull_request"],
      cancel_superseded: true,
      run: undefined,
      jobs: undefined,
    });
  });
});

/** Every ```yaml block of the README and docs/ whose top level has `run:` or `jobs:`: a `.yaci.yml` example. */
function yaciExamples(): Array<[string, string]> {
  const files = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  const out: Array<[string, string]> = [];
  for (const f of files) {
    const text = readFileSync(join(ROOT, f), "utf8");
    for (const m of text.matchAll(/^```ya?ml\n([\s\S]*?)^```$/gm)) {
      const doc = parseDocument(m[1]!);
      const line = text.slice(0, m.index).split("\n").length;
      if (isMap(doc.contents) && (doc.has("run") || doc.has("jobs"))) out.push([`${f}:${line}`, m[1]!]);
    }
  }
  return out;
}

describe("the .yaci.yml examples of the README and docs/", () => {
  const examples = yaciExamples();
  const validate = new Ajv2020({ strict: false }).compile(JSON.parse(committed) as object);
  const dir = mkdtempSync(join(tmpdir(), "yaci-examples-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("are found (the README has at least the short form, the full form and the editor example)", () => {
    expect(examples.length).toBeGreaterThanOrEqual(3);
  });

  it.each(examples)("%s validates against the JSON schema and with `yaci validate`", async (where, text) => {
    const value = parseDocument(text).toJS() as unknown;
    expect(validate(value), `${where}: ${JSON.stringify(validate.errors)}`).toBe(true);
    const file = join(dir, `${where.replace(/[/:.]/g, "-")}.yml`);
    writeFileSync(file, text);
    const r = await yaci(["validate", file]);
    expect(r.code, `${where}:\n${r.stdout}${r.stderr}`).toBe(0);
  });
});
