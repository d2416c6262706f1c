import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { harness, makeSpec } from "./harness.js";

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
} as never;

const kustomization = docs("kustomization.yaml")[0] as unknown as { resources: string[] };
const all = [...kustomization.resources, "secret.example.yaml"].flatMap((f) => docs(f).map((d) => ({ file: f, doc: d })));
const find = (kind: string) => all.filter((x) => x.doc.kind === kind).map((x) => x.doc);

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
    expect(pod.serviceAccountName).toBe("yaci");
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
      h.standIn.kubelet.succeed(a.id, "ok\n");
      await rec.waitPhase(a.id, "finished");
      await executor.markReported(a.id);
      await executor.cancel(b.id);
      h.standIn.kubelet.imagePullError(c.id);
      await rec.waitPhase(c.id, "finished");
      const used = new Set(h.standIn.requests.map((r) => `${r.resource} ${r.verb}`));
      expect([...used].sort()).toEqual([...granted].sort());
      expect(new Set(h.standIn.requests.map((r) => /\/namespaces\/([^/]+)\//.exec(r.path)?.[1]))).toEqual(new Set([h.standIn.namespace]));
    } finally {
      await h.close();
    }
  });
});
