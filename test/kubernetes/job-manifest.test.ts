import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Job } from "kubernetes-models/batch/v1/Job";
import { Secret } from "kubernetes-models/v1/Secret";
import type { RunSpec } from "../../src/core/run.js";
import { MAX_RUN_ID_LENGTH, runId } from "../../src/core/run-id.js";
import {
  buildJobManifest,
  buildSecretManifest,
  jobResources,
  specFromJob,
  tarballUrl,
  type ManifestOptions,
} from "../../src/executors/kubernetes/job-manifest.js";
import { DEFAULT_KUBERNETES_OPTIONS } from "../../src/executors/kubernetes/options.js";
import { makeSpec, TOKEN } from "./harness.js";

const GOLDEN = join(fileURLToPath(new URL(".", import.meta.url)), "golden");

const opts: ManifestOptions = { ...DEFAULT_KUBERNETES_OPTIONS, namespace: "yaci-jobs", githubApiUrl: "https://api.github.com" };

/**
 * Compares with a golden file. The golden files were reviewed by hand, line by line, against the
 * Kubernetes API reference and YACI's docs; they are expectations, not the code's last output.
 * `UPDATE_GOLDEN=1` rewrites them locally (then review the diff like code); in CI it is refused,
 * so a run can never bless its own output.
 */
function golden(name: string, value: unknown): void {
  const file = join(GOLDEN, name);
  const text = `${JSON.stringify(value, null, 2)}\n`;
  if (process.env.UPDATE_GOLDEN) {
    if (process.env.CI) throw new Error("UPDATE_GOLDEN is refused when CI is set: golden files change only by a reviewed commit");
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, text);
  }
  expect(existsSync(file), `${file} is missing: run with UPDATE_GOLDEN=1 once and review it`).toBe(true);
  expect(text).toBe(readFileSync(file, "utf8"));
}

const tiny: RunSpec = {
  id: "yaci-build-abc1234-0123456789-1",
  key: { owner: "o", repo: "r", sha: "abc1234def5678abc1234def5678abc1234def56", job: "build" },
  attempt: 1,
  event: "api",
  installationId: 1,
  ref: "",
  image: "alpine:3.20",
  run: "echo great success",
  timeoutMs: 60_000,
  env: {},
  checkout: false,
};

const full = makeSpec({
  job: "Test (unit) / node 22",
  sha: "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeed",
  event: "pull_request",
  prNumber: 7,
  ref: "refs/pull/7/head",
  attempt: 3,
  timeoutMs: 5 * 60_000 + 500,
  env: { NODE_ENV: "test", CI: "yes-really", YACI_SHA: "cannot override" },
  resources: { cpu: "4", memory: "16Gi" },
});

const fullOpts: ManifestOptions = {
  ...opts,
  jobTtlSeconds: 600,
  maxCpu: "2",
  maxMemory: "8Gi",
  runAsUser: 1000,
  runAsGroup: 1000,
  fsGroup: 1000,
  runAsNonRoot: true,
  imagePullSecrets: ["ghcr-pull"],
  serviceAccountName: "yaci-job",
  githubApiUrl: "https://github.example.com/api/v3/",
};

/**
 * The API server's rules, written out from the Kubernetes docs ("Object Names and IDs", "Labels"):
 * a Job's name becomes its pods' `job-name` label and their name prefix, so it must be a DNS-1123
 * label (≤ 63); its pods are named `<job>-<5 random characters>`, so the name must leave 6
 * characters free; a label value is empty or ≤ 63 alphanumerics with `-`, `_`, `.` inside.
 */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const isKubeJobName = (n: string) => DNS1123_LABEL.test(n) && n.length + 6 <= 63;
const isKubeLabelValue = (v: string) => LABEL_VALUE.test(v) && v.length <= 63;

function validateJob(obj: unknown): void {
  new Job(obj as ConstructorParameters<typeof Job>[0]).validate();
}

describe("buildJobManifest", () => {
  it("a tiny spec (API run, no checkout): valid against the official model, as the golden file", () => {
    const job = buildJobManifest(tiny, opts);
    validateJob(job);
    golden("job-tiny.json", job);
    expect(job.spec?.template.spec?.initContainers).toBeUndefined();
  });

  it("a full spec (checkout, capped resources, security knobs): valid, as the golden file", () => {
    const job = buildJobManifest(full, fullOpts);
    validateJob(job);
    golden("job-full.json", job);
  });

  it("the secret: valid against the official model, owned by the Job, as the golden file", () => {
    const secret = buildSecretManifest(full, TOKEN, fullOpts, { uid: "8a4c5c3e-3d0f-4e55-9a3f-1c1d2e3f4a5b" });
    new Secret(secret as ConstructorParameters<typeof Secret>[0]).validate();
    golden("secret.json", secret);
    expect(Buffer.from(secret.data!.token!, "base64").toString()).toBe(TOKEN);
  });

  it("the model validation catches a broken manifest (the check can fail)", () => {
    const job = buildJobManifest(tiny, opts) as unknown as { spec: { backoffLimit: unknown; template: { spec: { containers: unknown[] } } } };
    job.spec.backoffLimit = "0";
    expect(() => validateJob(job)).toThrow(/backoffLimit/);
    const job2 = buildJobManifest(tiny, opts) as unknown as { spec: { template: { spec: { containers: Array<Record<string, unknown>> } } } };
    delete job2.spec.template.spec.containers[0]!.name;
    expect(() => validateJob(job2)).toThrow(/name/);
  });

  it("has the required shape: labels, annotations, backoffLimit 0, deadline, TTL, restrictive pod", () => {
    const job = buildJobManifest(full, fullOpts);
    expect(job.metadata?.name).toBe(full.id);
    expect(job.metadata?.labels).toEqual({ "app.kubernetes.io/managed-by": "yaci", "yaci.dev/run-id": full.id });
    expect(job.spec?.template.metadata?.labels).toEqual(job.metadata?.labels);
    expect(job.metadata?.annotations).toMatchObject({
      "yaci.dev/repository": "octo-org/hello-world",
      "yaci.dev/sha": full.key.sha,
      "yaci.dev/job": "Test (unit) / node 22",
      "yaci.dev/attempt": "3",
      "yaci.dev/installation-id": "4242",
      "yaci.dev/ref": "refs/pull/7/head",
      "yaci.dev/event": "pull_request",
      "yaci.dev/pr-number": "7",
    });
    // The spec rides along as plain JSON (read back by `specFromJob`, checked on the golden file below).
    expect(JSON.parse(job.metadata!.annotations!["yaci.dev/spec"]!)).toEqual(full);
    expect(job.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 301, ttlSecondsAfterFinished: 600 });
    const pod = job.spec!.template.spec!;
    expect(pod).toMatchObject({ restartPolicy: "Never", automountServiceAccountToken: false, enableServiceLinks: false });
    expect(pod.securityContext).toEqual({ seccompProfile: { type: "RuntimeDefault" }, runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 });
    for (const c of [...pod.initContainers!, ...pod.containers]) {
      expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    }
  });

  it("main container: image, sh -ec run, /workspace, env with CI and YACI_* (which the config cannot override), no token", () => {
    const job = buildJobManifest(full, fullOpts);
    const main = job.spec!.template.spec!.containers[0]!;
    expect(main).toMatchObject({ name: "main", image: "node:22-alpine", command: ["sh", "-ec", full.run], workingDir: "/workspace" });
    expect(main.env).toEqual([
      { name: "CI", value: "yes-really" },
      { name: "NODE_ENV", value: "test" },
      { name: "YACI_SHA", value: full.key.sha },
      { name: "YACI_REPOSITORY", value: "octo-org/hello-world" },
      { name: "YACI_REF", value: "refs/pull/7/head" },
      { name: "YACI_JOB", value: "Test (unit) / node 22" },
      { name: "YACI_ATTEMPT", value: String(full.attempt) },
    ]);
    expect(JSON.stringify(main)).not.toMatch(/secretKeyRef|token/i);
    expect(main.volumeMounts).toEqual([{ name: "workspace", mountPath: "/workspace" }]);
  });

  it("init container: fetches the tarball with the token from the Job's Secret, into the shared emptyDir", () => {
    const job = buildJobManifest(full, fullOpts);
    const init = job.spec!.template.spec!.initContainers![0]!;
    expect(init.image).toBe("alpine:3.20");
    expect(init.env).toContainEqual({ name: "YACI_CHECKOUT_TOKEN", valueFrom: { secretKeyRef: { name: full.id, key: "token" } } });
    expect(init.env).toContainEqual({ name: "YACI_TARBALL_URL", value: `https://github.example.com/api/v3/repos/octo-org/hello-world/tarball/${full.key.sha}` });
    expect(init.volumeMounts).toEqual([{ name: "workspace", mountPath: "/workspace" }]);
    expect(job.spec!.template.spec!.volumes).toEqual([{ name: "workspace", emptyDir: { sizeLimit: "10Gi" } }]);
    expect(JSON.stringify(job)).not.toContain(TOKEN);
  });

  it("the tarball URL escapes owner and repo", () => {
    expect(tarballUrl("https://api.github.com", makeSpec({}))).toBe(
      "https://api.github.com/repos/octo-org/hello-world/tarball/0123456789abcdef0123456789abcdef01234567",
    );
  });

  it("caps resources by YACI_MAX_CPU / YACI_MAX_MEMORY, comparing quantities (not strings)", () => {
    const r = (resources: RunSpec["resources"], o: Partial<ManifestOptions> = {}) => jobResources(makeSpec({ resources }), { ...opts, ...o });
    expect(r({ cpu: "500m", memory: "512Mi" }, { maxCpu: "2", maxMemory: "1Gi" })).toEqual({
      requests: { cpu: "500m", memory: "512Mi" },
      limits: { cpu: "500m", memory: "512Mi" },
    });
    expect(r({ cpu: "2500m", memory: "2G" }, { maxCpu: "2", maxMemory: "1Gi" })?.limits).toEqual({ cpu: "2", memory: "1Gi" });
    // "900Mi" > "1Gi" as strings, but smaller as quantities; 1.5 cores > 1500m? equal → kept.
    expect(r({ cpu: "1.5", memory: "900Mi" }, { maxCpu: "1500m", maxMemory: "1Gi" })?.limits).toEqual({ cpu: "1.5", memory: "900Mi" });
    expect(r({ memory: "1e9" }, { maxMemory: "900M" })?.limits).toEqual({ memory: "900M" });
    expect(r(undefined)).toBeUndefined();
    expect(r(undefined, { defaultCpu: "1", defaultMemory: "2Gi", maxMemory: "1Gi" })?.limits).toEqual({ cpu: "1", memory: "1Gi" });
    expect(() => r({ memory: "1 GB" })).toThrow(/not a Kubernetes quantity/);
  });

  it("names and labels follow the API server's rules for every run id shape", () => {
    const jobs = ["build", "Test (unit) / node 22", "a".repeat(200), "ÜBER-job!!", "---", "x"];
    for (const job of jobs) {
      for (const attempt of [1, 12, 999]) {
        const id = runId({ owner: "Some-Org", repo: "Repo.Name", sha: "ABCDEF0123456789abcdef0123456789abcdef01", job }, attempt);
        expect(id.length).toBeLessThanOrEqual(MAX_RUN_ID_LENGTH);
        const spec = makeSpec({ job });
        const m = buildJobManifest({ ...spec, id }, opts);
        expect(isKubeJobName(m.metadata!.name!), m.metadata!.name).toBe(true);
        for (const v of Object.values(m.metadata!.labels!)) expect(isKubeLabelValue(v), v).toBe(true);
        validateJob(m);
      }
    }
    // The rules above can fail:
    expect(isKubeJobName("a".repeat(58))).toBe(false);
    expect(isKubeJobName("Upper")).toBe(false);
    expect(isKubeLabelValue("-starts-with-dash")).toBe(false);
    // Names the API server would refuse are refused before any request.
    for (const id of ["Not_Valid", "a".repeat(64), "-dash", "dot.ted"]) expect(() => buildJobManifest({ ...tiny, id }, opts), id).toThrow(/not a valid Kubernetes name/);
  });

  it("reads a Job written by hand (the reviewed golden file) back into its RunSpec", () => {
    const job = JSON.parse(readFileSync(join(GOLDEN, "job-full.json"), "utf8"));
    expect(specFromJob(job)).toEqual({
      id: "yaci-test-unit-node-22-f00dfee-f65c75396f-3",
      key: { owner: "octo-org", repo: "hello-world", sha: "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeed", job: "Test (unit) / node 22" },
      attempt: 3,
      event: "pull_request",
      installationId: 4242,
      ref: "refs/pull/7/head",
      image: "node:22-alpine",
      run: "npm ci\nnpm test",
      timeoutMs: 300_500,
      env: { NODE_ENV: "test", CI: "yes-really", YACI_SHA: "cannot override" },
      checkout: true,
      prNumber: 7,
      resources: { cpu: "4", memory: "16Gi" },
    });
  });

  it("refuses a spec too large for an annotation", () => {
    expect(() => buildJobManifest({ ...tiny, run: "x".repeat(300 * 1024) }, opts)).toThrow(/too large/);
  });
});
