import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LocalExecutor } from "../../src/executors/local/local-executor.js";
import { localContainment } from "../../src/executors/local/sandbox.js";
import type { JobObservation } from "../../src/executors/executor.js";
import { LogStore } from "../../src/logs/log-store.js";
import { LocalSecretStore } from "../../src/secrets/local-store.js";
import { fakeSpec } from "../fakes/records.js";

/** Issue 14 on the local executor: a job's named secrets from YACI_SECRETS_DIR, masked in its log. */

const VALUE = "local-secret-value-5b1e";
const MULTI = "-----BEGIN KEY-----\nMULTIline-one-77\nMULTIline-two-88\n-----END KEY-----";

async function setup(sandbox: "required" | "off") {
  const dataDir = mkdtempSync(join(tmpdir(), "yaci-local-secrets-"));
  const secretsDir = join(mkdtempSync(join(tmpdir(), "yaci-secret-store-")), "secrets");
  const store = new LocalSecretStore(secretsDir);
  store.set({ owner: "octo" }, "S", "owner-value-is-overridden");
  store.set({ owner: "octo", repo: "hello" }, "S", VALUE);
  store.set({ owner: "octo" }, "M", MULTI);
  const logs = new LogStore(dataDir);
  const env = { YACI_LOCAL_SANDBOX: sandbox, YACI_SECRETS_DIR: secretsDir };
  const executor = new LocalExecutor({
    dataDir,
    logs,
    concurrency: 2,
    githubApiUrl: "http://127.0.0.1:1",
    containment: await localContainment(env, dataDir),
    checkoutToken: async () => "unused",
    secrets: store,
  });
  const seen: JobObservation[] = [];
  executor.subscribe((o) => seen.push(o));
  const finished = (id: string) =>
    new Promise<Extract<JobObservation, { phase: "finished" }>>((resolve, reject) => {
      const deadline = Date.now() + 25_000;
      const check = () => {
        const f = seen.find((o): o is Extract<JobObservation, { phase: "finished" }> => o.runId === id && o.phase === "finished");
        if (f) resolve(f);
        else if (Date.now() > deadline) reject(new Error(`${id} did not finish`));
        else setTimeout(check, 20);
      };
      check();
    });
  return { executor, logs, finished, secretsDir, dataDir };
}

describe.each(["required", "off"] as const)("local executor secrets (YACI_LOCAL_SANDBOX=%s)", (sandbox) => {
  it("the job reads its secrets (the repository's value wins); its log shows them masked: plain, per line, base64", { timeout: 30_000 }, async () => {
    const { executor, logs, finished } = await setup(sandbox);
    const run = [
      'test "$S" = "' + VALUE + '" && echo "S matches"',
      'echo "plain: $S"',
      'printf "%s\\n" "$M"',
      'printf %s "$S" | base64',
      'printf %s "$M" | base64',
    ].join("\n");
    const spec = fakeSpec({ id: "yaci-secret-read-1", run, checkout: false, secrets: ["S", "M"], env: { S: "from-env-loses" } });
    await executor.start(spec);
    const f = await finished(spec.id);
    expect(f.outcome).toBe("succeeded");
    const log = readFileSync(logs.path(spec.id), "utf8");
    expect(log).toContain("S matches");
    expect(log).toContain("plain: ***");
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    for (const leak of [VALUE, "MULTIline-one-77", "MULTIline-two-88", b64(VALUE), b64(MULTI).slice(0, 76)]) expect(log).not.toContain(leak);
  });

  it("a missing secret fails the start, naming it and both files; withheld secrets are not given", { timeout: 30_000 }, async () => {
    const { executor, logs, finished, secretsDir } = await setup(sandbox);
    const missing = fakeSpec({ id: "yaci-secret-missing-1", run: "true", checkout: false, secrets: ["NOPE"] });
    await expect(executor.start(missing)).rejects.toThrow(`secret NOPE does not exist: looked for in ${join(secretsDir, "octo", "hello.env")} and ${join(secretsDir, "octo.env")}`);
    const fork = fakeSpec({ id: "yaci-secret-fork-1", run: 'echo "S=[${S:-unset}]"', checkout: false, secrets: ["S", "NOPE"], secretsWithheld: "this pull request comes from a fork" });
    await executor.start(fork);
    expect((await finished(fork.id)).outcome).toBe("succeeded");
    expect(readFileSync(logs.path(fork.id), "utf8")).toBe("S=[unset]\n");
  });
});

describe("the sandbox hides the secret store", () => {
  it("a sandboxed job cannot read YACI_SECRETS_DIR, even outside YACI_DATA_DIR", { timeout: 30_000 }, async () => {
    const { executor, logs, finished, secretsDir } = await setup("required");
    const spec = fakeSpec({ id: "yaci-secret-files-1", run: `cat ${join(secretsDir, "octo.env")} 2>/dev/null || echo hidden`, checkout: false });
    await executor.start(spec);
    await finished(spec.id);
    expect(readFileSync(logs.path(spec.id), "utf8")).toBe("hidden\n");
  });
});
