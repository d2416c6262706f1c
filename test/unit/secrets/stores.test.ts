import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunSpec } from "../../../src/core/run.js";
import { LocalSecretStore, localSecretsDir } from "../../../src/secrets/local-store.js";
import { KubeSecretStore, repoLabel } from "../../../src/secrets/kube-store.js";
import { parseScope } from "../../../src/secrets/scope.js";
import { KubeStandIn } from "../../support/kube-stand-in.js";

const spec = (over: Partial<RunSpec> = {}): RunSpec => ({
  id: "r-1",
  key: { owner: "Octo-Org", repo: "Hello", sha: "a".repeat(40), job: "build" },
  attempt: 1,
  event: "push",
  installationId: 1,
  ref: "refs/heads/main",
  image: "alpine",
  run: "true",
  timeoutMs: 60_000,
  env: {},
  checkout: false,
  ...over,
});

describe("scopes: OWNER[/REPO] as GitHub names them, nothing else", () => {
  it("accepts owners and repositories (lower-cased), refuses paths and bad names", () => {
    expect(parseScope("Octo-Org/Hello.World_2")).toEqual({ owner: "octo-org", repo: "hello.world_2" });
    expect(parseScope("octo")).toEqual({ owner: "octo" });
    for (const bad of ["../etc", "a/..", "a/.", "a/b/c", "-a", "a-/x", "a".repeat(40), "a/", "a b", "", "a/b c"]) expect(() => parseScope(bad), bad).toThrow();
  });
});

describe("the local store (YACI_SECRETS_DIR)", () => {
  const dir = join(mkdtempSync(join(tmpdir(), "yaci-secrets-")), "secrets");
  const store = new LocalSecretStore(dir);

  it("defaults to $YACI_DATA_DIR/secrets", () => {
    expect(localSecretsDir({ YACI_DATA_DIR: "/data" })).toBe("/data/secrets");
    expect(localSecretsDir({ YACI_DATA_DIR: "/data", YACI_SECRETS_DIR: "/etc/yaci-secrets" })).toBe("/etc/yaci-secrets");
  });

  it("writes one private file per owner and per repository, atomically (no temporary file left)", () => {
    store.set({ owner: "octo-org" }, "NPM_TOKEN", "owner-value");
    store.set({ owner: "octo-org", repo: "hello" }, "NPM_TOKEN", "repo-value\nline 2");
    store.set({ owner: "octo-org", repo: "hello" }, "OTHER", "x'y\"z");
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, "octo-org")).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, "octo-org.env")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "octo-org", "hello.env")).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, "octo-org"))).toEqual(["hello.env"]);
    expect(store.list({ owner: "octo-org", repo: "hello" })).toEqual(["NPM_TOKEN", "OTHER"]);
    expect(store.read({ owner: "octo-org", repo: "hello" }).get("NPM_TOKEN")).toBe("repo-value\nline 2");
  });

  it("resolves a job's secrets: the repository's value wins over the owner's; names are case-insensitive", () => {
    store.set({ owner: "octo-org" }, "ONLY_OWNER", "o");
    expect(store.forRun(spec({ secrets: ["NPM_TOKEN", "ONLY_OWNER"] }))).toEqual({ NPM_TOKEN: "repo-value\nline 2", ONLY_OWNER: "o" });
    expect(store.forRun(spec({ key: { owner: "octo-org", repo: "other", sha: "a", job: "b" }, secrets: ["NPM_TOKEN"] }))).toEqual({ NPM_TOKEN: "owner-value" });
  });

  it("withheld secrets (a fork) are not read; a missing one names itself and both files", () => {
    expect(store.forRun(spec({ secrets: ["NOPE"], secretsWithheld: "fork" }))).toEqual({});
    expect(() => store.forRun(spec({ secrets: ["NOPE"] }))).toThrow(
      `secret NOPE does not exist: looked for in ${join(dir, "octo-org", "hello.env")} and ${join(dir, "octo-org.env")}`,
    );
  });

  it("deletes a secret, and the file with its last one", () => {
    expect(store.delete({ owner: "octo-org" }, "ONLY_OWNER")).toBe(true);
    expect(store.delete({ owner: "octo-org" }, "ONLY_OWNER")).toBe(false);
    expect(store.delete({ owner: "octo-org" }, "NPM_TOKEN")).toBe(true);
    expect(readdirSync(dir)).toEqual(["octo-org"]);
  });

  it("reads files written by hand, and says which file is broken (never its value)", () => {
    mkdirSync(join(dir, "hand"), { recursive: true });
    writeFileSync(join(dir, "hand.env"), "# mine\nexport A=plain\nB='multi\nline'\n");
    expect(store.forRun(spec({ key: { owner: "hand", repo: "r", sha: "a", job: "b" }, secrets: ["A", "B"] }))).toEqual({ A: "plain", B: "multi\nline" });
    writeFileSync(join(dir, "hand.env"), 'A="never-closed-value\n');
    expect(() => store.list({ owner: "hand" })).toThrow(`the secrets file ${join(dir, "hand.env")}, line 1: the value of A has no closing "`);
    expect(readFileSync(join(dir, "hand.env"), "utf8")).toContain("never-closed"); // untouched
  });
});

describe("the Kubernetes store (labelled Secrets), against the API stand-in", () => {
  let kube: KubeStandIn;
  let store: KubeSecretStore;
  beforeAll(async () => {
    kube = await KubeStandIn.start();
    store = new KubeSecretStore(kube.kubeConfig().makeApiClient(CoreV1Api), kube.namespace);
  });
  afterAll(() => kube.close());

  it("set/list/delete: one Secret per owner and per repository, labelled, names as keys", async () => {
    await store.set({ owner: "octo-org" }, "NPM_TOKEN", "owner-value");
    await store.set({ owner: "octo-org", repo: "hello" }, "NPM_TOKEN", "repo-value");
    await store.set({ owner: "octo-org", repo: "hello" }, "OTHER", "o");
    const secrets = kube.list("secrets");
    expect(secrets.map((s) => [s.metadata.name, s.metadata.labels, Object.keys(s.data).sort()])).toEqual([
      ["yaci-secrets-octo-org", { "yaci.dev/owner": "octo-org", "app.kubernetes.io/part-of": "yaci" }, ["NPM_TOKEN"]],
      [expect.stringMatching(/^yaci-secrets-octo-org--hello-[0-9a-f]{8}$/), { "yaci.dev/owner": "octo-org", "yaci.dev/repo": "hello", "app.kubernetes.io/part-of": "yaci" }, ["NPM_TOKEN", "OTHER"]],
    ]);
    expect(await store.list({ owner: "octo-org" })).toEqual(["NPM_TOKEN"]);
    expect(await store.list({ owner: "octo-org", repo: "hello" })).toEqual(["NPM_TOKEN", "OTHER"]);
    expect(await store.delete({ owner: "octo-org", repo: "hello" }, "OTHER")).toBe(true);
    expect(await store.list({ owner: "octo-org", repo: "hello" })).toEqual(["NPM_TOKEN"]);
    expect(await store.delete({ owner: "octo-org", repo: "hello" }, "OTHER")).toBe(false);
  });

  it("a repository name that is no label value gets a hash label and its full name in an annotation", async () => {
    const repo = `.${"x".repeat(90)}`;
    expect(repoLabel(repo)).toMatch(/^sha256-[0-9a-f]{48}$/);
    await store.set({ owner: "octo-org", repo }, "LONG", "long-value");
    const s = kube.list("secrets").find((x) => x.data.LONG)!;
    expect(s.metadata.labels["yaci.dev/repo"]).toBe(repoLabel(repo));
    expect(s.metadata.annotations["yaci.dev/repo"]).toBe(repo);
    expect(await store.list({ owner: "octo-org", repo })).toEqual(["LONG"]);
  });

  it("resolves a job's secrets in one LIST: references (repository wins), values only for masking", async () => {
    const before = kube.count("list", "secrets");
    const got = await store.forRun(spec({ secrets: ["NPM_TOKEN"] }));
    expect(kube.count("list", "secrets") - before).toBe(1);
    expect(got.refs).toEqual({ NPM_TOKEN: { secretKeyRef: { name: expect.stringMatching(/^yaci-secrets-octo-org--hello-/), key: "NPM_TOKEN" } } });
    expect(got.values).toEqual(["repo-value"]);
    const other = await store.forRun(spec({ key: { owner: "octo-org", repo: "else", sha: "a", job: "b" }, secrets: ["NPM_TOKEN"] }));
    expect(other.refs.NPM_TOKEN).toEqual({ secretKeyRef: { name: "yaci-secrets-octo-org", key: "NPM_TOKEN" } });
  });

  it("a Secret made with kubectl counts; a missing secret names the label selector and namespace", async () => {
    kube.put("secrets", { apiVersion: "v1", kind: "Secret", metadata: { name: "by-hand", labels: { "yaci.dev/owner": "octo-org" } }, data: { DEPLOY_KEY: Buffer.from("k").toString("base64") } }, "ADDED");
    expect((await store.forRun(spec({ secrets: ["DEPLOY_KEY"] }))).refs.DEPLOY_KEY).toEqual({ secretKeyRef: { name: "by-hand", key: "DEPLOY_KEY" } });
    expect(await store.forRun(spec({ secrets: ["MISSING"], secretsWithheld: "fork" }))).toEqual({ refs: {}, values: [] });
    await expect(store.forRun(spec({ secrets: ["MISSING"] }))).rejects.toThrow(
      `secret MISSING does not exist: looked for in the Secrets labelled yaci.dev/owner=octo-org (with yaci.dev/repo=hello for the repository, without yaci.dev/repo for the owner) in namespace "${kube.namespace}"`,
    );
  });
});
