import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { harness, makeSpec, until } from "./harness.js";
import { buildJobManifest } from "../../src/executors/kubernetes/job-manifest.js";
import { DEFAULT_KUBERNETES_OPTIONS } from "../../src/executors/kubernetes/options.js";

const DEPLOY = join(fileURLToPath(new URL("../../deploy/", import.meta.url)));

type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };

function docs(file: string): Doc[] {
  return parseAllDocuments(readFileSync(join(DEPLOY, file), "utf8")).map((d) => d.toJSON() as Doc);
}

const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  "v1/Namespace": Namespace,
  "v1/ServiceAccount": ServiceAccount,
  "v1/Service": Service,
  "v1/Secret": Secret,
  "apps/v1/Deployment": Deployment,
  "rbac.authorization.k8s.io/v1/Role": Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
} as never;

const kustomization = docs("kustomization.yaml")[0] as unknown as { resources: string[] };
const all = [...kustomization.resources, "secret.example.yaml"].flatMap((f) => docs(f).map((d) => ({ file: f, doc: d })));
const find = (kind: string) => all.filter((x) => x.doc.kind === kind).map((x) => x.doc);

/** Every value under a key named `key`, anywhere in `value`. */
function under(value: unknown, key: string): unknown[] {
  if (Array.isArray(value)) return value.flatMap((v) => under(v, key));
  if (!value || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) => [...(k === key ? [v] : []), ...under(v, key)]);
}

/** Is the IPv4 address inside the CIDR? */
function inCidr(ip: string, cidr: string): boolean {
  const num = (a: string) => a.split(".").reduce((n, part) => n * 256 + Number(part), 0);
  const [base, bits] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  return Math.floor(num(ip) / size) === Math.floor(num(base!) / size);
}

describe("deploy/", () => {
  it("every manifest is valid against the official Kubernetes models", () => {
    expect(all.length).toBeGreaterThanOrEqual(8);
    for (const { file, doc } of all) {
      const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
      expect(Model, `${file}: ${doc.apiVersion} ${doc.kind}`).toBeDefined();
      expect(() => new Model!(doc as never).validate(), file).not.toThrow();
    }
  });

  it("the Deployment: kubernetes executor, env from the Secret, probes on 3000, non-root, resources", () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const [dep] = find("Deployment") as unknown as Array<{ spec: { template: { spec: any } } }>;
    const pod = dep!.spec.template.spec;
    const c = pod.containers[0];
    const env = Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(env).toMatchObject({ YACI_EXECUTOR: "kubernetes", YACI_NAMESPACE: "yaci-jobs" });
    expect(c.envFrom).toEqual([{ secretRef: { name: "yaci-env" } }]);
    expect(c.ports).toEqual([{ name: "http", containerPort: 3000 }]);
    expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(c.resources.requests).toBeDefined();
    expect(c.resources.limits.memory).toBeDefined();
    expect(c.resources.requests["ephemeral-storage"]).toBeDefined();
    expect(c.resources.limits["ephemeral-storage"]).toBeDefined();
    expect(pod.serviceAccountName).toBe("yaci");
  });

  it("every emptyDir has a sizeLimit", () => {
    const dirs = all.flatMap(({ file, doc }) => under(doc, "emptyDir").map((d) => ({ file, d: d as { sizeLimit?: string } })));
    expect(dirs.length).toBeGreaterThan(0);
    for (const { file, d } of dirs) expect(d.sizeLimit, file).toMatch(/^\d+(Mi|Gi)$/);
  });

  it("the jobs' NetworkPolicy selects the pods of YACI's Jobs: no ingress; egress to DNS and the internet, not to the cluster's private ranges or the metadata endpoint", () => {
    const [policy] = find("NetworkPolicy") as unknown as Array<{
      metadata: { namespace: string };
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: unknown[]; egress: any[] };
    }>;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const [dep] = find("Deployment") as unknown as Array<{ spec: { template: { spec: any } } }>;
    const jobsNamespace = dep!.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === "YACI_NAMESPACE").value;
    expect(policy!.metadata.namespace).toBe(jobsNamespace);
    const job = buildJobManifest(makeSpec(), { ...DEFAULT_KUBERNETES_OPTIONS, namespace: jobsNamespace, githubApiUrl: "https://api.github.com" });
    const podLabels = job.spec!.template.metadata!.labels!;
    expect(Object.keys(policy!.spec.podSelector.matchLabels).length).toBeGreaterThan(0);
    expect(podLabels).toMatchObject(policy!.spec.podSelector.matchLabels);
    expect(policy!.spec.policyTypes.sort()).toEqual(["Egress", "Ingress"]);
    expect(policy!.spec.ingress).toEqual([]);
    const peers = policy!.spec.egress.flatMap((rule) => rule.to);
    const dns = policy!.spec.egress.find((rule) => rule.to.some((p: { podSelector?: unknown }) => p.podSelector));
    expect(dns.to[0].podSelector.matchLabels).toEqual({ "k8s-app": "kube-dns" });
    expect(dns.ports).toEqual(expect.arrayContaining([{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }]));
    const v4 = peers.filter((p) => p.ipBlock?.cidr === "0.0.0.0/0").map((p) => p.ipBlock as { except: string[] });
    expect(v4).toHaveLength(1);
    // The metadata endpoint, the usual Service, pod and node ranges (the API's Service 10.96.0.1), loopback.
    for (const ip of ["169.254.169.254", "10.96.0.1", "10.244.1.7", "172.20.0.10", "192.168.49.2", "100.64.3.4", "127.0.0.1"]) {
      expect(v4[0]!.except.some((cidr) => inCidr(ip, cidr)), ip).toBe(true);
    }
    expect(v4[0]!.except.some((cidr) => inCidr("140.82.112.3", cidr))).toBe(false); // github.com stays reachable
    expect(peers.every((p) => p.ipBlock || (p.podSelector && p.namespaceSelector))).toBe(true); // no other pod or namespace
  });

  it("the Role grants exactly the (resource, verb) pairs the executor uses, in the jobs' namespace", async () => {
    const [role] = find("Role") as unknown as Array<{ metadata: { namespace: string }; rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> }>;
    const [binding] = find("RoleBinding") as unknown as Array<{ metadata: { namespace: string }; subjects: Array<{ name: string; namespace: string }> }>;
    expect(role!.metadata.namespace).toBe("yaci-jobs");
    expect(binding!.metadata.namespace).toBe("yaci-jobs");
    expect(binding!.subjects).toEqual([{ kind: "ServiceAccount", name: "yaci", namespace: "yaci" }]);
    const granted = new Set(role!.rules.flatMap((r) => r.resources.flatMap((res) => r.verbs.map((v) => `${res} ${v}`))));

    // Every kind of request the executor makes: start, adopt (409), finish with a log, cancel,
    // mark reported, YACI's own deletion (image pull failure).
    const h = await harness();
    try {
      const { executor, rec } = await h.newExecutor({ imagePullGraceMs: 100 });
      const a = makeSpec({ job: "a" });
      const b = makeSpec({ job: "b" });
      const c = makeSpec({ job: "c", image: "nope:1" });
      await executor.start(a);
      await executor.start(a); // adopt
      await executor.start(b);
      await executor.start(c);
      // A job that names a secret: one LIST of the owner's Secrets (issue 14).
      h.standIn.put("secrets", { apiVersion: "v1", kind: "Secret", metadata: { name: "npm", labels: { "yaci.dev/owner": "octo-org" } }, data: { NPM_TOKEN: "c2VjcmV0" } }, "ADDED");
      const withSecret = makeSpec({ job: "s", secrets: ["NPM_TOKEN"] });
      await executor.start(withSecret);
      h.standIn.kubelet.succeed(a.id, "ok\n");
      h.standIn.kubelet.succeed(withSecret.id, "ok\n");
      await rec.waitPhase(a.id, "finished");
      await rec.waitPhase(withSecret.id, "finished");
      await executor.markReported(a.id);
      await executor.cancel(b.id);
      h.standIn.kubelet.imagePullError(c.id);
      await rec.waitPhase(c.id, "finished");
      // The fair queue (YACI_MAX_RUNNING): a replica takes the Lease (create), reads and renews it.
      const queued = await h.newExecutor({}, { queue: { limits: { maxRunning: 1 }, leaseDurationMs: 300 } });
      const d = makeSpec({ job: "d" });
      await queued.executor.start(d);
      await until(() => h.standIn.objects.jobs.get(d.id)?.spec?.suspend === false, 10_000, "the queued Job's admission");
      await until(() => h.standIn.count("update", "leases") > 0, 10_000, "a renewal of the Lease");
      const used = new Set(h.standIn.requests.map((r) => `${r.resource} ${r.verb}`));
      expect([...used].sort()).toEqual([...granted].sort());
      expect(new Set(h.standIn.requests.map((r) => /\/namespaces\/([^/]+)\//.exec(r.path)?.[1]))).toEqual(new Set([h.standIn.namespace]));
    } finally {
      await h.close();
    }
  });
});
