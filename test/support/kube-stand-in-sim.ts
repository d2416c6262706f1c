/**
 * What makes the Kubernetes API stand-in's objects look like a real API server's (`realistic`):
 * `metadata.managedFields` (one entry per writer, its `fieldsV1` mirroring the fields it set, as
 * server-side field tracking records them) and the defaults the API server, the scheduler and the
 * kubelet fill in (pod spec defaults, pod IPs, QoS class, all five pod conditions, container IDs).
 * Real objects are 3–6 times the size of what a client sends: memory figures measured against the
 * bare stand-in would flatter a cache that keeps whole objects.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type KObj = Record<string, any>;

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

/** The `fieldsV1` of `value`: every field as `f:name`, list items keyed by name (`k:{"name":…}`). */
export function fieldsV1(value: unknown): KObj {
  if (Array.isArray(value)) {
    const out: KObj = {};
    value.forEach((item, i) => {
      const key = item && typeof item === "object" && "name" in item ? `k:${JSON.stringify({ name: item.name })}` : `i:${i}`;
      out[key] = { ".": {}, ...fieldsV1(item) };
    });
    return out;
  }
  if (!value || typeof value !== "object") return {};
  const out: KObj = {};
  for (const [k, v] of Object.entries(value)) out[`f:${k}`] = fieldsV1(v);
  return out;
}

/** Records that `manager` wrote `fields` (replacing its earlier entry for the same subresource). */
function track(obj: KObj, manager: string, fields: KObj, subresource?: string): void {
  const entry = { manager, operation: "Update", apiVersion: obj.apiVersion, time: now(), fieldsType: "FieldsV1", fieldsV1: fieldsV1(fields), ...(subresource ? { subresource } : {}) };
  const list: KObj[] = (obj.metadata.managedFields ??= []);
  const i = list.findIndex((e) => e.manager === manager && e.subresource === subresource);
  if (i >= 0) list[i] = entry;
  else list.push(entry);
}

function containerDefaults(c: KObj): void {
  c.imagePullPolicy ??= "IfNotPresent";
  c.terminationMessagePath ??= "/dev/termination-log";
  c.terminationMessagePolicy ??= "File";
  c.resources ??= {};
}

function podSpecDefaults(spec: KObj): void {
  spec.dnsPolicy ??= "ClusterFirst";
  spec.schedulerName ??= "default-scheduler";
  spec.terminationGracePeriodSeconds ??= 30;
  spec.securityContext ??= {};
  spec.priority ??= 0;
  spec.preemptionPolicy ??= "PreemptLowerPriority";
  spec.serviceAccountName ??= "default";
  spec.serviceAccount ??= spec.serviceAccountName;
  spec.tolerations ??= [
    { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
    { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
  ];
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) containerDefaults(c);
}

/** Fills in what the API server adds on create, and its managedFields; for Jobs and Pods. */
export function decorateCreated(resource: string, obj: KObj): void {
  if (resource === "jobs") {
    const spec = obj.spec;
    spec.completionMode ??= "NonIndexed";
    spec.completions ??= 1;
    spec.parallelism ??= 1;
    spec.manualSelector ??= false;
    spec.podReplacementPolicy ??= "TerminatingOrFailed";
    spec.suspend ??= false;
    spec.selector ??= { matchLabels: { "batch.kubernetes.io/controller-uid": obj.metadata.uid } };
    if (spec.template?.spec) podSpecDefaults(spec.template.spec);
    track(obj, "yaci", { metadata: { labels: obj.metadata.labels, annotations: obj.metadata.annotations }, spec: obj.spec });
  } else if (resource === "pods") {
    podSpecDefaults(obj.spec);
    obj.spec.volumes = [
      ...(obj.spec.volumes ?? []),
      { name: "kube-api-access-x7k2p", projected: { defaultMode: 420, sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: "token" } }, { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } }, { downwardAPI: { items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }] } }] } },
    ];
    obj.metadata.generateName = `${obj.metadata.labels?.["batch.kubernetes.io/job-name"] ?? "pod"}-`;
    track(obj, "kube-controller-manager", { metadata: { generateName: 1, labels: obj.metadata.labels, ownerReferences: obj.metadata.ownerReferences }, spec: obj.spec });
  }
}

/** A status write by the kubelet (pods) or the job controller (Jobs): the fields they fill in, and their managedFields. */
export function decorateModified(resource: string, obj: KObj): void {
  const status = obj.status;
  if (!status) return;
  if (resource === "pods") {
    if (obj.spec?.nodeName) {
      status.hostIP ??= "10.0.3.17";
      status.hostIPs ??= [{ ip: status.hostIP }];
      status.qosClass ??= "Burstable";
    }
    if (status.phase === "Running" || status.phase === "Succeeded" || status.phase === "Failed") {
      status.podIP ??= `10.244.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
      status.podIPs ??= [{ ip: status.podIP }];
      const ready = status.phase === "Running" ? "True" : "False";
      const t = now();
      const conditions: KObj[] = status.conditions ?? [];
      for (const type of ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]) {
        const c = conditions.find((x) => x.type === type);
        const value = type === "Ready" || type === "ContainersReady" ? ready : "True";
        if (c) c.status = c.type === "PodScheduled" ? c.status : value;
        else conditions.push({ type, status: value, lastProbeTime: null, lastTransitionTime: t, ...(value === "False" ? { reason: "PodCompleted" } : {}) });
      }
      status.conditions = conditions;
    }
    for (const s of [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])]) {
      s.imageID ||= `docker.io/library/${String(s.image).replace(/:.*/, "")}@sha256:${"4f".repeat(32)}`;
      if (s.state?.running || s.state?.terminated) {
        s.containerID ??= `containerd://${"9c".repeat(32)}`;
        s.lastState ??= {};
        s.volumeMounts ??= [{ name: "kube-api-access-x7k2p", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true, recursiveReadOnly: "Disabled" }];
        if (s.state.terminated) s.state.terminated.containerID ??= s.containerID;
      }
    }
    track(obj, "kubelet", { status }, "status");
  } else if (resource === "jobs") {
    status.ready ??= 0;
    status.terminating ??= 0;
    status.uncountedTerminatedPods ??= {};
    track(obj, "kube-controller-manager", { status }, "status");
  }
}
