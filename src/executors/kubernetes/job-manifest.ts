import type { V1Container, V1EnvVar, V1EnvVarSource, V1Job, V1PodSecurityContext, V1ResourceRequirements, V1Secret, V1SecurityContext } from "@kubernetes/client-node";
import { invalidSpec, shellFlags, type RunSpec } from "../../core/run.js";
import type { KubernetesOptions } from "./options.js";
import { capQuantity, tryParseQuantity } from "./quantity.js";

/** Labels and annotations YACI puts on its Jobs, their pods and Secrets. */
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY_VALUE = "yaci";
export const RUN_ID_LABEL = "yaci.dev/run-id";
export const LABEL_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;

export const ANNOTATIONS = {
  spec: "yaci.dev/spec",
  reported: "yaci.dev/reported",
  repository: "yaci.dev/repository",
  sha: "yaci.dev/sha",
  job: "yaci.dev/job",
  attempt: "yaci.dev/attempt",
  installationId: "yaci.dev/installation-id",
  ref: "yaci.dev/ref",
  event: "yaci.dev/event",
  prNumber: "yaci.dev/pr-number",
} as const;

export const MAIN_CONTAINER = "main";
export const CHECKOUT_CONTAINER = "checkout";
export const WORKSPACE = "/workspace";
/** The Secret's key holding the checkout token. */
export const TOKEN_KEY = "token";

/** What the manifest builders need besides the spec. */
export type ManifestOptions = Pick<
  KubernetesOptions,
  | "jobTtlSeconds"
  | "maxCpu"
  | "maxMemory"
  | "defaultCpu"
  | "defaultMemory"
  | "checkoutImage"
  | "runAsUser"
  | "runAsGroup"
  | "fsGroup"
  | "runAsNonRoot"
  | "allowPrivilegeEscalation"
  | "seccompProfile"
  | "dropCapabilities"
  | "imagePullSecrets"
  | "serviceAccountName"
  | "workspaceSize"
> & {
  namespace: string;
  /** GitHub's REST base URL (`https://api.github.com`, or `http(s)://host/api/v3`). */
  githubApiUrl: string;
};

/** The API server's rules for names (DNS-1123 label) and label values. */
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const MAX_ANNOTATIONS_BYTES = 256 * 1024;

export function isValidName(name: string): boolean {
  return name.length <= 63 && DNS1123_LABEL.test(name);
}

export function isValidLabelValue(value: string): boolean {
  return value.length <= 63 && LABEL_VALUE.test(value);
}

/**
 * The checkout script of the init container. It reads the token from the environment and never
 * prints it (no `set -x`; wget runs quietly; errors name the repository and URL, not the header).
 * The tarball's top directory (`owner-repo-sha/`) is stripped so `/workspace` holds the files.
 */
export const CHECKOUT_SCRIPT = `archive="${WORKSPACE}/.yaci-checkout.tar.gz"
if ! wget -q -O "$archive" --header "Authorization: token $YACI_CHECKOUT_TOKEN" "$YACI_TARBALL_URL"; then
  echo "yaci: could not download $YACI_REPOSITORY at $YACI_SHA from $YACI_TARBALL_URL (does the app have contents: read on it?)" >&2
  exit 1
fi
if ! tar -xzof "$archive" -C "${WORKSPACE}" --strip-components=1; then
  echo "yaci: could not unpack the tarball of $YACI_REPOSITORY at $YACI_SHA" >&2
  exit 1
fi
rm -f "$archive"
echo "yaci: checked out $YACI_REPOSITORY at $YACI_SHA"
`;

export function tarballUrl(githubApiUrl: string, spec: RunSpec): string {
  const base = githubApiUrl.replace(/\/+$/, "");
  const { owner, repo, sha } = spec.key;
  return `${base}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/tarball/${encodeURIComponent(sha)}`;
}

export function jobLabels(spec: RunSpec): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_ID_LABEL]: spec.id };
}

function repository(spec: RunSpec): string | undefined {
  return spec.key.owner && spec.key.repo ? `${spec.key.owner}/${spec.key.repo}` : undefined;
}

function jobAnnotations(spec: RunSpec): Record<string, string> {
  const a: Record<string, string> = {};
  const repo = repository(spec);
  if (repo) a[ANNOTATIONS.repository] = repo;
  if (spec.key.sha) a[ANNOTATIONS.sha] = spec.key.sha;
  a[ANNOTATIONS.job] = spec.key.job;
  a[ANNOTATIONS.attempt] = String(spec.attempt);
  a[ANNOTATIONS.installationId] = String(spec.installationId);
  if (spec.ref) a[ANNOTATIONS.ref] = spec.ref;
  a[ANNOTATIONS.event] = spec.event;
  if (spec.prNumber !== undefined) a[ANNOTATIONS.prNumber] = String(spec.prNumber);
  a[ANNOTATIONS.spec] = JSON.stringify(spec);
  return a;
}

/** Reads back the RunSpec a Job was created from; `undefined` when the annotation is missing or broken. */
export function specFromJob(job: V1Job): RunSpec | undefined {
  const text = job.metadata?.annotations?.[ANNOTATIONS.spec];
  if (!text) return undefined;
  try {
    const spec = JSON.parse(text) as RunSpec;
    if (typeof spec?.id !== "string" || typeof spec.key?.job !== "string" || typeof spec.run !== "string") return undefined;
    return spec;
  } catch {
    return undefined;
  }
}

function checkQuantity(what: string, value: string | undefined): void {
  if (value !== undefined && tryParseQuantity(value) === undefined) {
    throw new Error(`resources.${what}: ${JSON.stringify(value)} is not a Kubernetes quantity (examples: 500m, 2, 512Mi, 4Gi)`);
  }
}

/** What the main container may write outside the workspace (its image's layer, /tmp): at most the workspace size, 1Gi requested. */
function mainEphemeralStorage(opts: ManifestOptions): { request: string; limit: string } {
  const limit = opts.workspaceSize;
  const requested = (tryParseQuantity(limit) ?? 0) < 1024 ** 3 ? limit : "1Gi";
  return { request: requested, limit };
}

/**
 * Requests and limits of the main container: the job's `resources` (or the operator's defaults),
 * each capped by YACI_MAX_CPU / YACI_MAX_MEMORY. Requests equal limits, so a job gets what it
 * asked for and the OOM message can name its limit.
 */
export function jobResources(spec: RunSpec, opts: ManifestOptions): V1ResourceRequirements | undefined {
  const cpuWanted = spec.resources?.cpu ?? opts.defaultCpu;
  const memWanted = spec.resources?.memory ?? opts.defaultMemory;
  checkQuantity("cpu", cpuWanted);
  checkQuantity("memory", memWanted);
  const cpu = capQuantity(cpuWanted, opts.maxCpu);
  const memory = capQuantity(memWanted, opts.maxMemory);
  const values: Record<string, string> = {};
  if (cpu !== undefined) values.cpu = cpu;
  if (memory !== undefined) values.memory = memory;
  if (Object.keys(values).length === 0) return undefined;
  return { requests: { ...values }, limits: { ...values } };
}

function containerSecurity(opts: ManifestOptions): V1SecurityContext {
  const sc: V1SecurityContext = { allowPrivilegeEscalation: opts.allowPrivilegeEscalation };
  if (opts.dropCapabilities.length > 0) sc.capabilities = { drop: [...opts.dropCapabilities] };
  return sc;
}

function podSecurity(opts: ManifestOptions): V1PodSecurityContext {
  const sc: V1PodSecurityContext = { seccompProfile: { type: opts.seccompProfile } };
  if (opts.runAsNonRoot !== undefined) sc.runAsNonRoot = opts.runAsNonRoot;
  if (opts.runAsUser !== undefined) sc.runAsUser = opts.runAsUser;
  if (opts.runAsGroup !== undefined) sc.runAsGroup = opts.runAsGroup;
  if (opts.fsGroup !== undefined) sc.fsGroup = opts.fsGroup;
  return sc;
}

/** The job's variables, then its named secrets by reference (`secretKeyRef`: their values are not in the Job). */
function mainEnv(spec: RunSpec, secretRefs: Record<string, V1EnvVarSource> = {}): V1EnvVar[] {
  const env: Record<string, string> = { CI: "true", ...spec.env };
  const repo = repository(spec);
  if (repo) env.YACI_REPOSITORY = repo;
  if (spec.key.sha) env.YACI_SHA = spec.key.sha;
  if (spec.ref) env.YACI_REF = spec.ref;
  env.YACI_JOB = spec.key.job;
  env.YACI_ATTEMPT = String(spec.attempt);
  const vars: V1EnvVar[] = Object.entries(env).filter(([name]) => !(name in secretRefs)).map(([name, value]) => ({ name, value }));
  return [...vars, ...Object.entries(secretRefs).map(([name, valueFrom]) => ({ name, valueFrom }))];
}

function checkoutContainer(spec: RunSpec, opts: ManifestOptions): V1Container {
  return {
    name: CHECKOUT_CONTAINER,
    image: opts.checkoutImage,
    command: ["sh", "-ec", CHECKOUT_SCRIPT],
    workingDir: WORKSPACE,
    env: [
      { name: "YACI_REPOSITORY", value: repository(spec) ?? "" },
      { name: "YACI_SHA", value: spec.key.sha },
      { name: "YACI_TARBALL_URL", value: tarballUrl(opts.githubApiUrl, spec) },
      // The token: only this container sees it, from the Secret the Job owns.
      { name: "YACI_CHECKOUT_TOKEN", valueFrom: { secretKeyRef: { name: spec.id, key: TOKEN_KEY } } },
    ],
    volumeMounts: [{ name: "workspace", mountPath: WORKSPACE }],
    // The tarball lands in the workspace volume (bounded by its sizeLimit); the container itself writes little.
    resources: { requests: { cpu: "100m", memory: "64Mi", "ephemeral-storage": "64Mi" }, limits: { cpu: "1", memory: "256Mi", "ephemeral-storage": "1Gi" } },
    securityContext: containerSecurity(opts),
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
}

/**
 * The batch/v1 Job of one run (pure). Name = `spec.id`; the full spec rides along in an
 * annotation so a restarted app can rebuild it; the checkout token is never in it (the init
 * container reads it from the Secret of the same name). A run that checks out is created
 * suspended: its pod would otherwise start before that Secret exists. `secretRefs`: where the
 * job's named secrets are (kube-store.ts `forRun`), given to the main container by reference.
 */
export function buildJobManifest(spec: RunSpec, opts: ManifestOptions, secretRefs?: Record<string, V1EnvVarSource>): V1Job {
  if (!isValidName(spec.id)) throw new Error(`run id ${JSON.stringify(spec.id)} is not a valid Kubernetes name`);
  if (!(spec.timeoutMs > 0)) throw new Error(`run ${spec.id}: timeout must be positive`);
  const invalid = invalidSpec(spec);
  if (invalid) throw new Error(invalid);
  const labels = jobLabels(spec);
  const annotations = jobAnnotations(spec);
  const size = Object.entries(annotations).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
  if (size > MAX_ANNOTATIONS_BYTES) throw new Error(`run ${spec.id}: the job spec is too large for a Kubernetes annotation (${size} bytes)`);
  const cpuMemory = jobResources(spec, opts);
  const storage = mainEphemeralStorage(opts);
  const resources: V1ResourceRequirements = {
    requests: { ...cpuMemory?.requests, "ephemeral-storage": storage.request },
    limits: { ...cpuMemory?.limits, "ephemeral-storage": storage.limit },
  };
  const main: V1Container = {
    name: MAIN_CONTAINER,
    image: spec.image,
    command: ["sh", shellFlags(spec), spec.run],
    workingDir: WORKSPACE,
    env: mainEnv(spec, secretRefs),
    volumeMounts: [{ name: "workspace", mountPath: WORKSPACE }],
    securityContext: containerSecurity(opts),
    terminationMessagePolicy: "FallbackToLogsOnError",
    resources,
  };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: spec.id, namespace: opts.namespace, labels, annotations },
    spec: {
      // A run that checks out waits, suspended (no pod), until its token Secret exists: see `createJob`.
      ...(spec.checkout ? { suspend: true } : {}),
      backoffLimit: 0,
      activeDeadlineSeconds: Math.ceil(spec.timeoutMs / 1000),
      ttlSecondsAfterFinished: opts.jobTtlSeconds,
      template: {
        metadata: { labels: { ...labels } },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          ...(opts.serviceAccountName ? { serviceAccountName: opts.serviceAccountName } : {}),
          ...(opts.imagePullSecrets.length ? { imagePullSecrets: opts.imagePullSecrets.map((name) => ({ name })) } : {}),
          securityContext: podSecurity(opts),
          volumes: [{ name: "workspace", emptyDir: { sizeLimit: opts.workspaceSize } }],
          ...(spec.checkout ? { initContainers: [checkoutContainer(spec, opts)] } : {}),
          containers: [main],
        },
      },
    },
  };
}

/**
 * The Secret holding the checkout token (pure), named after the Job. Pass the created Job's
 * uid as `owner` so Kubernetes deletes the Secret with the Job (garbage collection).
 */
export function buildSecretManifest(spec: RunSpec, token: string, opts: Pick<ManifestOptions, "namespace">, owner?: { uid: string }): V1Secret {
  if (!isValidName(spec.id)) throw new Error(`run id ${JSON.stringify(spec.id)} is not a valid Kubernetes name`);
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: spec.id,
      namespace: opts.namespace,
      labels: jobLabels(spec),
      ...(owner ? { ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: spec.id, uid: owner.uid }] } : {}),
    },
    type: "Opaque",
    data: { [TOKEN_KEY]: Buffer.from(token, "utf8").toString("base64") },
  };
}
