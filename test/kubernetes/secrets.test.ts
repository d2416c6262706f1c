import { afterEach, describe, expect, it } from "vitest";
import { buildJobManifest } from "../../src/executors/kubernetes/job-manifest.js";
import { harness, makeSpec, type Harness } from "./harness.js";

/** Issue 14 on Kubernetes: named secrets by `secretKeyRef`, never in the Job object; masked in the saved log. */

const VALUE = "kube-secret-value-9c2d";
const MULTI = "-----BEGIN KEY-----\nKUBEline-one-11\nKUBEline-two-22\n-----END KEY-----";
const b64 = (s: string) => Buffer.from(s).toString("base64");

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function storeSecrets(x: Harness) {
  const put = (name: string, labels: Record<string, string>, data: Record<string, string>) =>
    x.standIn.put("secrets", { apiVersion: "v1", kind: "Secret", metadata: { name, labels }, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])) }, "ADDED");
  put("owner-secrets", { "yaci.dev/owner": "octo-org" }, { S: "owner-value-loses", M: MULTI });
  put("repo-secrets", { "yaci.dev/owner": "octo-org", "yaci.dev/repo": "hello-world" }, { S: VALUE });
}

describe("Kubernetes executor: a job's named secrets", () => {
  it("the manifest refers to them with secretKeyRef (the repository's wins); the value is nowhere in the Job", { timeout: 20_000 }, async () => {
    h = await harness();
    storeSecrets(h);
    const { executor } = await h.newExecutor();
    const spec = makeSpec({ job: "uses-secrets", checkout: false, secrets: ["S", "M"], env: { S: "env-loses" } });
    await executor.start(spec);
    const job = h.standIn.get("jobs", spec.id)!;
    const env = job.spec.template.spec.containers[0].env as Array<{ name: string; value?: string; valueFrom?: unknown }>;
    expect(env.filter((e) => e.name === "S" || e.name === "M")).toEqual([
      { name: "S", valueFrom: { secretKeyRef: { name: "repo-secrets", key: "S" } } },
      { name: "M", valueFrom: { secretKeyRef: { name: "owner-secrets", key: "M" } } },
    ]);
    const text = JSON.stringify(job);
    for (const leak of [VALUE, "KUBEline-one-11", b64(VALUE), b64(MULTI)]) expect(text).not.toContain(leak);
    expect(JSON.parse(job.metadata.annotations["yaci.dev/spec"]).secrets).toEqual(["S", "M"]); // names only
  });

  it("the job reads them through the stand-in's kubelet; its saved log has them masked (plain, per line, base64)", { timeout: 30_000 }, async () => {
    h = await harness();
    storeSecrets(h);
    const { executor, rec, logStore } = await h.newExecutor();
    const run = ['test "$S" = "' + VALUE + '" && echo "S matches"', 'echo "plain: $S"', 'printf "%s\\n" "$M"', 'printf %s "$S" | base64', 'printf %s "$M" | base64'].join("\n");
    const spec = makeSpec({ job: "reads-secrets", checkout: false, secrets: ["S", "M"], run });
    await executor.start(spec);
    expect(await h.standIn.kubelet.execute(spec.id)).toBe(0);
    await rec.waitPhase(spec.id, "finished");
    const log = (await logStore.tail(spec.id, 1 << 20)).text;
    expect(log).toContain("S matches");
    expect(log).toContain("plain: ***");
    for (const leak of [VALUE, "KUBEline-one-11", "KUBEline-two-22", b64(VALUE), b64(MULTI).slice(0, 76)]) expect(log).not.toContain(leak);
  });

  it("a job that ends while the app is down: the restarted app masks its secrets in the log it saves", { timeout: 30_000 }, async () => {
    h = await harness();
    storeSecrets(h);
    const first = await h.newExecutor();
    const spec = makeSpec({ job: "ends-while-down", checkout: false, secrets: ["S", "M"] });
    await first.executor.start(spec);
    await first.executor.close();
    h.standIn.kubelet.succeed(spec.id, `plain: ${VALUE}\nline: KUBEline-two-22\nb64: ${b64(VALUE)}\n`);

    const logStore = h.freshLogStore();
    const second = await h.newExecutor({}, { logStore, subscribe: false });
    const recovered = await second.executor.recover();
    expect(recovered.map((r) => [r.spec.id, r.observation.phase])).toEqual([[spec.id, "finished"]]);
    const log = (await logStore.tail(spec.id, 1 << 20)).text;
    expect(log).toContain("plain: ***");
    for (const leak of [VALUE, "KUBEline-two-22", b64(VALUE)]) expect(log).not.toContain(leak);
  });

  it("a missing secret fails the start before any Job exists, naming it, the label selector and the namespace", { timeout: 20_000 }, async () => {
    h = await harness();
    storeSecrets(h);
    const { executor } = await h.newExecutor();
    const spec = makeSpec({ job: "missing", checkout: false, secrets: ["S", "NOPE"] });
    await expect(executor.start(spec)).rejects.toThrow(/secret NOPE does not exist: looked for in the Secrets labelled yaci\.dev\/owner=octo-org .* in namespace "/);
    expect(h.standIn.get("jobs", spec.id)).toBeUndefined();
  });

  it("withheld secrets (a fork) are neither listed nor referred to", { timeout: 20_000 }, async () => {
    h = await harness();
    const { executor } = await h.newExecutor();
    const spec = makeSpec({ job: "fork", checkout: false, secrets: ["NOPE"], secretsWithheld: "this pull request comes from a fork" });
    await executor.start(spec);
    expect(h.standIn.count("list", "secrets")).toBe(0);
    expect(JSON.stringify(h.standIn.get("jobs", spec.id)!.spec)).not.toContain("secretKeyRef");
    expect(buildJobManifest(spec, { namespace: "ns", githubApiUrl: "https://api.github.com", jobTtlSeconds: 1, checkoutImage: "alpine", allowPrivilegeEscalation: false, seccompProfile: "RuntimeDefault", dropCapabilities: [], imagePullSecrets: [], workspaceSize: "1Gi" }).spec!.template.spec!.containers[0]!.env!.some((e) => e.name === "NOPE")).toBe(false);
  });
});
