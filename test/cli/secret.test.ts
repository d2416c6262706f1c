import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeStandIn } from "../support/kube-stand-in.js";
import { yaci } from "./yaci-process.js";

/** Issue 14, acceptance 4: `yaci secret set/list/delete` as a process, against both stores. */

const VALUE = "cli-secret-value-31f0";
const MULTI = "line one of it\nline \"two\" \\ of it\n";

describe("yaci secret, local store (YACI_SECRETS_DIR)", () => {
  const cwd = mkdtempSync(join(tmpdir(), "yaci-cli-secret-"));
  const dir = join(cwd, "store");
  const env = { YACI_SECRETS_DIR: dir };

  it("set reads the value from standard input (one trailing newline dropped), list prints names only, delete removes", { timeout: 60_000 }, async () => {
    const set = await yaci(["secret", "set", "Octo-Org/Hello", "NPM_TOKEN"], { cwd, env, input: `${VALUE}\n` });
    expect(set.code).toBe(0);
    expect(set.stdout).toBe(`set NPM_TOKEN for octo-org/hello (${join(dir, "octo-org", "hello.env")})\n`);
    expect((await yaci(["secret", "set", "octo-org", "MULTI"], { cwd, env, input: `${MULTI}\n` })).code).toBe(0);
    expect(statSync(join(dir, "octo-org.env")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, "octo-org", "hello.env"), "utf8")).toBe(`NPM_TOKEN="${VALUE}"\n`);
    const { parseDotenv } = await import("../../src/secrets/local-store.js");
    expect(parseDotenv(readFileSync(join(dir, "octo-org.env"), "utf8")).get("MULTI")).toBe(MULTI);

    const list = await yaci(["secret", "list", "octo-org/hello"], { cwd, env });
    expect(list).toMatchObject({ code: 0, stdout: "NPM_TOKEN\n" });
    expect((await yaci(["secret", "list", "octo-org"], { cwd, env })).stdout).toBe("MULTI\n");

    expect((await yaci(["secret", "delete", "octo-org/hello", "NPM_TOKEN"], { cwd, env })).code).toBe(0);
    expect((await yaci(["secret", "list", "octo-org/hello"], { cwd, env })).stdout).toBe("");
    const again = await yaci(["secret", "delete", "octo-org/hello", "NPM_TOKEN"], { cwd, env });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("octo-org/hello has no secret NPM_TOKEN");
  });

  it("refuses a value as an argument, bad names and scopes, an empty value (exit 2)", { timeout: 60_000 }, async () => {
    const asArg = await yaci(["secret", "set", "octo-org", "A", "the-value"], { cwd, env, input: "x" });
    expect(asArg.code).toBe(2);
    expect(asArg.stderr).toContain("unexpected argument 'the-value'");
    expect((await yaci(["secret", "set", "../etc", "A"], { cwd, env, input: "x" })).stderr).toContain("is not a GitHub user or organisation name");
    expect((await yaci(["secret", "set", "octo-org", "1A"], { cwd, env, input: "x" })).stderr).toContain("is not a valid secret name");
    expect((await yaci(["secret", "set", "octo-org", "A"], { cwd, env, input: "\n" })).stderr).toContain("is empty");
    expect((await yaci(["secret", "rotate", "octo-org"], { cwd, env })).code).toBe(2);
  });

  it("uses $YACI_DATA_DIR/secrets by default, with YACI_DATA_DIR from ./.env as the app reads it", { timeout: 30_000 }, async () => {
    const { writeFileSync } = await import("node:fs");
    writeFileSync(join(cwd, ".env"), `YACI_DATA_DIR=${join(cwd, "data")}\n`);
    expect((await yaci(["secret", "set", "octo", "A"], { cwd, input: "v4lue" })).stdout).toContain(join(cwd, "data", "secrets", "octo.env"));
  });
});

describe("yaci secret, Kubernetes store (YACI_EXECUTOR=kubernetes, the API stand-in)", () => {
  let kube: KubeStandIn;
  let env: Record<string, string>;
  const cwd = mkdtempSync(join(tmpdir(), "yaci-cli-kube-secret-"));
  beforeAll(async () => {
    kube = await KubeStandIn.start();
    env = { YACI_EXECUTOR: "kubernetes", KUBECONFIG: kube.writeKubeconfig(cwd) };
  });
  afterAll(() => kube.close());

  it("set/list/delete write labelled Secrets in YACI's namespace", { timeout: 150_000 }, async () => {
    const set = await yaci(["secret", "set", "octo-org/hello", "NPM_TOKEN"], { cwd, env, input: `${VALUE}\n` });
    expect(set.stderr).toBe("");
    expect(set.code).toBe(0);
    expect(set.stdout).toContain(`Secrets labelled yaci.dev/owner=octo-org,yaci.dev/repo=hello in namespace "${kube.namespace}"`);
    expect((await yaci(["secret", "set", "octo-org", "MULTI"], { cwd, env, input: MULTI })).code).toBe(0);
    const secrets = kube.list("secrets");
    expect(secrets.map((s) => s.metadata.labels)).toEqual([
      { "yaci.dev/owner": "octo-org", "yaci.dev/repo": "hello", "app.kubernetes.io/part-of": "yaci" },
      { "yaci.dev/owner": "octo-org", "app.kubernetes.io/part-of": "yaci" },
    ]);
    expect(Buffer.from(secrets[0]!.data.NPM_TOKEN, "base64").toString()).toBe(VALUE);
    expect(Buffer.from(secrets[1]!.data.MULTI, "base64").toString()).toBe(MULTI.replace(/\n$/, ""));
    expect((await yaci(["secret", "list", "octo-org/hello"], { cwd, env })).stdout).toBe("NPM_TOKEN\n");
    expect((await yaci(["secret", "list", "octo-org"], { cwd, env })).stdout).toBe("MULTI\n");
    expect((await yaci(["secret", "delete", "octo-org", "MULTI"], { cwd, env })).code).toBe(0);
    expect(kube.list("secrets")).toHaveLength(1);
    expect((await yaci(["secret", "delete", "octo-org", "MULTI"], { cwd, env })).code).toBe(1);
  });
});
