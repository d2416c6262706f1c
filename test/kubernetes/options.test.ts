import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_KUBERNETES_OPTIONS, kubernetesOptionsFromEnv, loadKubeConfig, parseEnvDurationOrSeconds } from "../../src/executors/kubernetes/options.js";
import { capQuantity, tryParseQuantity } from "../../src/executors/kubernetes/quantity.js";

describe("quantities", () => {
  it("parses binary, decimal and exponent suffixes", () => {
    expect(tryParseQuantity("500m")).toBeCloseTo(0.5);
    expect(tryParseQuantity("2")).toBe(2);
    expect(tryParseQuantity("1.5")).toBe(1.5);
    expect(tryParseQuantity("1Gi")).toBe(2 ** 30);
    expect(tryParseQuantity("512Mi")).toBe(512 * 2 ** 20);
    expect(tryParseQuantity("1G")).toBe(1e9);
    expect(tryParseQuantity("128974848")).toBe(128974848);
    expect(tryParseQuantity("129e6")).toBe(129e6);
    expect(tryParseQuantity("1k")).toBe(1000);
    for (const bad of ["", "1 GB", "1gi", "abc", "-1", "1.2.3", "Gi"]) expect(tryParseQuantity(bad)).toBeUndefined();
  });

  it("caps by value, keeping the text of the smaller", () => {
    expect(capQuantity("900Mi", "1Gi")).toBe("900Mi");
    expect(capQuantity("2Gi", "1Gi")).toBe("1Gi");
    expect(capQuantity("2000m", "2")).toBe("2000m");
    expect(capQuantity("2001m", "2")).toBe("2");
    expect(capQuantity(undefined, "2")).toBeUndefined();
    expect(capQuantity("3", undefined)).toBe("3");
  });
});

describe("kubernetesOptionsFromEnv", () => {
  it("defaults", () => {
    expect(kubernetesOptionsFromEnv({})).toEqual(DEFAULT_KUBERNETES_OPTIONS);
    expect(DEFAULT_KUBERNETES_OPTIONS).toMatchObject({ jobTtlSeconds: 3600, pendingTimeoutMs: 600_000, imagePullGraceMs: 120_000, checkoutImage: "alpine:3.20" });
  });

  it("reads every variable", () => {
    const o = kubernetesOptionsFromEnv({
      YACI_NAMESPACE: "ci-jobs",
      YACI_JOB_TTL_SECONDS: "600",
      YACI_MAX_CPU: "4",
      YACI_MAX_MEMORY: "8Gi",
      YACI_DEFAULT_CPU: "500m",
      YACI_DEFAULT_MEMORY: "1Gi",
      YACI_PENDING_TIMEOUT: "15m",
      YACI_IMAGE_PULL_GRACE: "90s",
      YACI_CHECKOUT_IMAGE: "registry.local/alpine:3.20",
      YACI_RUN_AS_USER: "1000",
      YACI_RUN_AS_GROUP: "1000",
      YACI_FS_GROUP: "2000",
      YACI_RUN_AS_NON_ROOT: "true",
      YACI_ALLOW_PRIVILEGE_ESCALATION: "false",
      YACI_SECCOMP_PROFILE: "Unconfined",
      YACI_DROP_CAPABILITIES: "",
      YACI_IMAGE_PULL_SECRETS: "ghcr, dockerhub",
      YACI_JOB_SERVICE_ACCOUNT: "yaci-job",
      YACI_RELIST_INTERVAL: "1h30m",
      YACI_LOG_MAX_BYTES: "5Mi",
      YACI_LIVE_LOG_READS_PER_MINUTE: "30",
      YACI_WORKSPACE_SIZE: "20Gi",
    });
    expect(o).toEqual({
      namespace: "ci-jobs",
      jobTtlSeconds: 600,
      maxCpu: "4",
      maxMemory: "8Gi",
      defaultCpu: "500m",
      defaultMemory: "1Gi",
      pendingTimeoutMs: 900_000,
      imagePullGraceMs: 90_000,
      checkoutImage: "registry.local/alpine:3.20",
      runAsUser: 1000,
      runAsGroup: 1000,
      fsGroup: 2000,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      seccompProfile: "Unconfined",
      dropCapabilities: [],
      imagePullSecrets: ["ghcr", "dockerhub"],
      serviceAccountName: "yaci-job",
      relistIntervalMs: 5_400_000,
      logMaxBytes: 5 * 2 ** 20,
      liveLogReadsPerMinute: 30,
      workspaceSize: "20Gi",
    });
  });

  it("refuses malformed values, naming the variable", () => {
    const bad: Record<string, string> = {
      YACI_NAMESPACE: "Not_A_Namespace",
      YACI_JOB_TTL_SECONDS: "-1",
      YACI_MAX_CPU: "lots",
      YACI_MAX_MEMORY: "8 GB",
      YACI_PENDING_TIMEOUT: "soon",
      YACI_IMAGE_PULL_GRACE: "0s",
      YACI_RUN_AS_USER: "root",
      YACI_RUN_AS_NON_ROOT: "maybe",
      YACI_SECCOMP_PROFILE: "Localhost",
      YACI_IMAGE_PULL_SECRETS: "Bad_Name",
      YACI_LOG_MAX_BYTES: "10",
    };
    for (const [k, v] of Object.entries(bad)) expect(() => kubernetesOptionsFromEnv({ [k]: v }), k).toThrow(k);
  });

  it("durations: units, combinations, bare seconds", () => {
    expect(parseEnvDurationOrSeconds("X", "10m")).toBe(600_000);
    expect(parseEnvDurationOrSeconds("X", "1h30m")).toBe(5_400_000);
    expect(parseEnvDurationOrSeconds("X", "250ms")).toBe(250);
    expect(parseEnvDurationOrSeconds("X", "45")).toBe(45_000);
    expect(() => parseEnvDurationOrSeconds("X", "10 minutes")).toThrow(/X/);
  });
});

describe("loadKubeConfig", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "yaci-kc-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const kubeconfig = (ns?: string, name = "dev", server = "https://dev.example:6443") =>
    [
      "apiVersion: v1",
      "kind: Config",
      `clusters: [{ name: ${name}, cluster: { server: "${server}" } }]`,
      `users: [{ name: ${name}, user: { token: t } }]`,
      `contexts: [{ name: ${name}, context: { cluster: ${name}, user: ${name}${ns ? `, namespace: ${ns}` : ""} } }]`,
      `current-context: ${name}`,
    ].join("\n");

  it("KUBECONFIG: the context's namespace, overridden by YACI_NAMESPACE, else default", () => {
    const f = join(dir, "config");
    writeFileSync(f, kubeconfig("team-ci"));
    expect(loadKubeConfig({ KUBECONFIG: f })).toMatchObject({ namespace: "team-ci", server: "https://dev.example:6443", source: `kubeconfig ${f} (context dev)` });
    expect(loadKubeConfig({ KUBECONFIG: f, YACI_NAMESPACE: "yaci-jobs" }).namespace).toBe("yaci-jobs");
    writeFileSync(f, kubeconfig());
    expect(loadKubeConfig({ KUBECONFIG: f }).namespace).toBe("default");
  });

  it("~/.kube/config when KUBECONFIG is unset; several KUBECONFIG files merge, the first wins", () => {
    mkdirSync(join(dir, ".kube"));
    writeFileSync(join(dir, ".kube", "config"), kubeconfig("home"));
    expect(loadKubeConfig({ HOME: dir }).namespace).toBe("home");
    const a = join(dir, "a");
    const b = join(dir, "b");
    writeFileSync(a, kubeconfig("first", "dev"));
    writeFileSync(b, kubeconfig("second", "dev", "https://other:6443"));
    expect(loadKubeConfig({ KUBECONFIG: `${a}:${b}` })).toMatchObject({ namespace: "first", server: "https://dev.example:6443" });
  });

  it("in a cluster: the service account, the API from KUBERNETES_SERVICE_*, the pod's namespace", () => {
    writeFileSync(join(dir, "namespace"), "yaci\n");
    writeFileSync(join(dir, "token"), "sa-token");
    const r = loadKubeConfig({ KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443", KUBECONFIG: "/nonexistent" }, dir);
    expect(r).toMatchObject({ namespace: "yaci", server: "https://10.0.0.1:443", source: "in-cluster service account" });
    expect(loadKubeConfig({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443", YACI_NAMESPACE: "jobs" }, dir)).toMatchObject({ namespace: "jobs", server: "https://[fd00::1]:443" });
  });

  it("no configuration at all is an error that says what to do (no localhost fallback)", () => {
    expect(() => loadKubeConfig({ HOME: dir })).toThrow(/no Kubernetes configuration.*Set KUBECONFIG/);
    expect(() => loadKubeConfig({ KUBECONFIG: join(dir, "missing") })).toThrow(/does not exist/);
  });
});
