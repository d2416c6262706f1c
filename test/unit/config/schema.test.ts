import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parseDocument } from "yaml";
import { describe, expect, it } from "vitest";
import { KNOWN_KEYS, yaciConfigJsonSchema, yaciConfigSchema } from "../../../src/config/schema.js";

const fixture = (name: string) => parseDocument(readFileSync(new URL(`../../fixtures/configs/${name}`, import.meta.url), "utf8")).toJS();

describe("the JSON schema generated from the zod schema", () => {
  const schema = yaciConfigJsonSchema();
  const validate = new Ajv2020({ strict: false }).compile(schema);

  it("accepts needs, matrix (with include and exclude) and secrets", () => {
    const value = {
      secrets: "NPM_TOKEN",
      jobs: {
        build: { run: "x" },
        test: { run: "x", needs: "build", image: "node:${{ matrix.node }}", matrix: { node: ["20", 22], flag: [true], include: [{ node: "23" }], exclude: [{ node: 20 }] } },
        deploy: { run: "x", needs: ["test"], secrets: ["DEPLOY_KEY"] },
      },
    };
    expect(validate(value), JSON.stringify(validate.errors)).toBe(true);
    expect(yaciConfigSchema.safeParse(value).success).toBe(true);
  });

  it("accepts both documented forms", () => {
    expect(validate(fixture("short.yml")), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(fixture("full.yml")), JSON.stringify(validate.errors)).toBe(true);
  });

  it.each([
    ["an unknown key", { run: "x", timout: "5m" }],
    ["run and jobs together", { run: "x", jobs: { a: { run: "y" } } }],
    ["neither run nor jobs", { image: "x" }],
    ["a bad job name", { jobs: { "a b": { run: "x" } } }],
    ["a bad env name", { run: "x", env: { "1A": "x" } }],
    ["a timeout without unit", { run: "x", timeout: "15" }],
    ["version 2", { version: 2, run: "x" }],
    ["an unknown event", { run: "x", on: "release" }],
    ["needs that is a number", { jobs: { a: { run: "x", needs: 3 } } }],
    ["a matrix that is a list", { jobs: { a: { run: "x", matrix: ["20", "22"] } } }],
    ["a matrix value that is a mapping", { jobs: { a: { run: "x", matrix: { node: [{ v: 1 }] } } } }],
    ["a bad secret name", { run: "x", secrets: ["NPM-TOKEN"] }],
  ])("rejects %s", (_name, value) => {
    expect(validate(value)).toBe(false);
  });

  // The documented keys (README, "The .yaci.yml file"), written out here: a key added to or lost
  // from the schema without the docs (or the other way round) fails this test.
  const TOP = ["cancel_superseded", "env", "image", "jobs", "on", "run", "secrets", "timeout", "version"];
  const JOB = ["env", "image", "matrix", "needs", "resources", "run", "secrets", "timeout"];
  const RESOURCES = ["cpu", "memory"];
  type Node = { description?: string; properties?: Record<string, Node>; additionalProperties?: Node };

  it("has exactly the documented keys, each described", () => {
    const props = schema.properties as Record<string, Node>;
    expect(Object.keys(props).sort()).toEqual(TOP);
    const job = props.jobs!.additionalProperties!.properties!;
    expect(Object.keys(job).sort()).toEqual(JOB);
    expect(Object.keys(job.resources!.properties!).sort()).toEqual(RESOURCES);
    for (const [name, p] of [...Object.entries(props), ...Object.entries(job)]) expect(p.description, name).toMatch(/\w/);
    expect(props.timeout?.description).toContain("6h");
  });

  it("the keys the parser knows (for “did you mean”) are the documented ones", () => {
    expect([...KNOWN_KEYS.top].sort()).toEqual(TOP);
    expect([...KNOWN_KEYS.job].sort()).toEqual(JOB);
    expect([...KNOWN_KEYS.resources].sort()).toEqual(RESOURCES);
    expect([...KNOWN_KEYS.on].sort()).toEqual(["pull_request", "push"]);
  });
});

describe("yaciConfigSchema", () => {
  it("validates plain values too (without YAML)", () => {
    const r = yaciConfigSchema.safeParse({ run: "make", env: { N: 1, B: false }, timeout: "2m" });
    expect(r.success && r.data.jobs[0]).toEqual({ name: "build", image: "alpine:3.20", run: "make", timeoutMs: 120_000, env: { N: "1", B: "false" } });
  });
});
