import { existsSync, readFileSync } from "node:fs";
import { isIPv6 } from "node:net";
import { delimiter, join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { parseEnvDuration } from "../../env-duration.js";
import { DEFAULT_LOG_MAX_BYTES } from "../../logs/log-store.js";
import { byteSize, parseQuantity } from "./quantity.js";

/** Operator settings of the Kubernetes executor (environment variables, see docs/kubernetes.md). */
export interface KubernetesOptions {
  /** Namespace of the Jobs; `undefined`: the kube context's namespace, else `default`. */
  namespace?: string;
  /** `ttlSecondsAfterFinished` of every Job (YACI_JOB_TTL_SECONDS, default 3600). */
  jobTtlSeconds: number;
  /** Caps on a job's `resources` (YACI_MAX_CPU, YACI_MAX_MEMORY). */
  maxCpu?: string;
  maxMemory?: string;
  /** Resources of a job whose `.yaci.yml` sets none (YACI_DEFAULT_CPU, YACI_DEFAULT_MEMORY). */
  defaultCpu?: string;
  defaultMemory?: string;
  /** How long a Job may wait for a node before it fails (YACI_PENDING_TIMEOUT, default 10m). */
  pendingTimeoutMs: number;
  /** How long an image pull may keep failing before the job fails (YACI_IMAGE_PULL_GRACE, default 2m). */
  imagePullGraceMs: number;
  /** Image of the checkout init container: needs `sh`, `wget` and `tar` (YACI_CHECKOUT_IMAGE). */
  checkoutImage: string;
  /** Pod security: YACI_RUN_AS_USER, YACI_RUN_AS_GROUP, YACI_FS_GROUP, YACI_RUN_AS_NON_ROOT. */
  runAsUser?: number;
  runAsGroup?: number;
  fsGroup?: number;
  runAsNonRoot?: boolean;
  /** YACI_ALLOW_PRIVILEGE_ESCALATION (default false). */
  allowPrivilegeEscalation: boolean;
  /** YACI_SECCOMP_PROFILE: RuntimeDefault (default) or Unconfined. */
  seccompProfile: "RuntimeDefault" | "Unconfined";
  /** YACI_DROP_CAPABILITIES: comma-separated, default `ALL`; empty drops none. */
  dropCapabilities: string[];
  /** YACI_IMAGE_PULL_SECRETS: comma-separated Secret names for private job images. */
  imagePullSecrets: string[];
  /** YACI_JOB_SERVICE_ACCOUNT: service account of job pods (its token is never mounted). */
  serviceAccountName?: string;
  /** Safety-net re-list of Jobs and Pods (YACI_RELIST_INTERVAL, default 5m). */
  relistIntervalMs: number;
  /** At most this many bytes of a job's log are kept: the end of it (YACI_LOG_MAX_BYTES, default 10 MiB). */
  logMaxBytes: number;
  /** Bounded `pods/log` reads for running jobs' check runs, at most this many a minute in all (YACI_LIVE_LOG_READS_PER_MINUTE, default 60). */
  liveLogReadsPerMinute: number;
  /** `sizeLimit` of a job's workspace volume, and the main container's ephemeral-storage limit (YACI_WORKSPACE_SIZE, default 10Gi). */
  workspaceSize: string;
}

export const DEFAULT_CHECKOUT_IMAGE = "alpine:3.20";

export const DEFAULT_KUBERNETES_OPTIONS: KubernetesOptions = {
  jobTtlSeconds: 3600,
  pendingTimeoutMs: 10 * 60_000,
  imagePullGraceMs: 2 * 60_000,
  checkoutImage: DEFAULT_CHECKOUT_IMAGE,
  allowPrivilegeEscalation: false,
  seccompProfile: "RuntimeDefault",
  dropCapabilities: ["ALL"],
  imagePullSecrets: [],
  relistIntervalMs: 5 * 60_000,
  logMaxBytes: DEFAULT_LOG_MAX_BYTES,
  liveLogReadsPerMinute: 60,
  workspaceSize: "10Gi",
};

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

type Env = Record<string, string | undefined>;

function get(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === "" ? undefined : v;
}

/**
 * The executor's durations (YACI_PENDING_TIMEOUT, YACI_IMAGE_PULL_GRACE, YACI_RELIST_INTERVAL): the
 * operator's duration grammar (`90s`, `10m`, `1h30m`), and, as documented for these variables, a
 * bare number of seconds (`45`).
 */
export function parseEnvDurationOrSeconds(name: string, text: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  return parseEnvDuration(name, text);
}

function int(env: Env, name: string, min: number): number | undefined {
  const v = get(env, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new Error(`${name}: ${JSON.stringify(v)} must be a whole number ≥ ${min}`);
  return Number(v);
}

function bool(env: Env, name: string): boolean | undefined {
  const v = get(env, name)?.toLowerCase();
  if (v === undefined) return undefined;
  if (["true", "1", "yes"].includes(v)) return true;
  if (["false", "0", "no"].includes(v)) return false;
  throw new Error(`${name}: ${JSON.stringify(v)} must be true or false`);
}

function quantity(env: Env, name: string): string | undefined {
  const v = get(env, name);
  if (v !== undefined) parseQuantity(v, name);
  return v;
}

function list(env: Env, name: string): string[] | undefined {
  const v = env[name];
  if (v === undefined) return undefined;
  return v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Reads the executor's settings from the environment. Unknown or malformed values are errors
 * (thrown, with the variable's name), never silently replaced by a default.
 */
export function kubernetesOptionsFromEnv(env: Env): KubernetesOptions {
  const o: KubernetesOptions = { ...DEFAULT_KUBERNETES_OPTIONS };
  const ns = get(env, "YACI_NAMESPACE");
  if (ns !== undefined) {
    if (!DNS1123_LABEL.test(ns) || ns.length > 63) throw new Error(`YACI_NAMESPACE: ${JSON.stringify(ns)} is not a valid namespace name`);
    o.namespace = ns;
  }
  o.jobTtlSeconds = int(env, "YACI_JOB_TTL_SECONDS", 0) ?? o.jobTtlSeconds;
  o.maxCpu = quantity(env, "YACI_MAX_CPU");
  o.maxMemory = quantity(env, "YACI_MAX_MEMORY");
  o.defaultCpu = quantity(env, "YACI_DEFAULT_CPU");
  o.defaultMemory = quantity(env, "YACI_DEFAULT_MEMORY");
  const pending = get(env, "YACI_PENDING_TIMEOUT");
  if (pending !== undefined) o.pendingTimeoutMs = parseEnvDurationOrSeconds("YACI_PENDING_TIMEOUT", pending);
  const grace = get(env, "YACI_IMAGE_PULL_GRACE");
  if (grace !== undefined) o.imagePullGraceMs = parseEnvDurationOrSeconds("YACI_IMAGE_PULL_GRACE", grace);
  o.checkoutImage = get(env, "YACI_CHECKOUT_IMAGE") ?? o.checkoutImage;
  o.runAsUser = int(env, "YACI_RUN_AS_USER", 0);
  o.runAsGroup = int(env, "YACI_RUN_AS_GROUP", 0);
  o.fsGroup = int(env, "YACI_FS_GROUP", 0);
  o.runAsNonRoot = bool(env, "YACI_RUN_AS_NON_ROOT");
  o.allowPrivilegeEscalation = bool(env, "YACI_ALLOW_PRIVILEGE_ESCALATION") ?? o.allowPrivilegeEscalation;
  const seccomp = get(env, "YACI_SECCOMP_PROFILE");
  if (seccomp !== undefined) {
    if (seccomp !== "RuntimeDefault" && seccomp !== "Unconfined") {
      throw new Error(`YACI_SECCOMP_PROFILE: ${JSON.stringify(seccomp)} must be RuntimeDefault or Unconfined`);
    }
    o.seccompProfile = seccomp;
  }
  o.dropCapabilities = list(env, "YACI_DROP_CAPABILITIES") ?? o.dropCapabilities;
  o.imagePullSecrets = list(env, "YACI_IMAGE_PULL_SECRETS") ?? o.imagePullSecrets;
  for (const s of o.imagePullSecrets) {
    if (!DNS1123_SUBDOMAIN.test(s)) throw new Error(`YACI_IMAGE_PULL_SECRETS: ${JSON.stringify(s)} is not a valid Secret name`);
  }
  const sa = get(env, "YACI_JOB_SERVICE_ACCOUNT");
  if (sa !== undefined) {
    if (!DNS1123_SUBDOMAIN.test(sa)) throw new Error(`YACI_JOB_SERVICE_ACCOUNT: ${JSON.stringify(sa)} is not a valid name`);
    o.serviceAccountName = sa;
  }
  const relist = get(env, "YACI_RELIST_INTERVAL");
  if (relist !== undefined) o.relistIntervalMs = parseEnvDurationOrSeconds("YACI_RELIST_INTERVAL", relist);
  const logMax = get(env, "YACI_LOG_MAX_BYTES");
  if (logMax !== undefined) o.logMaxBytes = byteSize("YACI_LOG_MAX_BYTES", logMax, 1024, "1Ki");
  o.liveLogReadsPerMinute = int(env, "YACI_LIVE_LOG_READS_PER_MINUTE", 0) ?? o.liveLogReadsPerMinute;
  const ws = quantity(env, "YACI_WORKSPACE_SIZE");
  if (ws !== undefined) {
    if (parseQuantity(ws, "YACI_WORKSPACE_SIZE") < 1024 ** 2) throw new Error(`YACI_WORKSPACE_SIZE: ${JSON.stringify(ws)} must be at least 1Mi`);
    o.workspaceSize = ws;
  }
  return o;
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface LoadedKubeConfig {
  kc: KubeConfig;
  /** Where the Jobs go: YACI_NAMESPACE, else the context's namespace, else `default`. */
  namespace: string;
  /** For the start-up log line: "in-cluster service account" or "kubeconfig /path (context x)". */
  source: string;
  /** The API server's URL. */
  server: string;
}

/**
 * Configures the Kubernetes client the standard way, but only from `env` (never `process.env`,
 * so tests stay isolated): the in-cluster service account when KUBERNETES_SERVICE_HOST is set,
 * else KUBECONFIG (a list of files, merged) or `~/.kube/config`. There is no fallback to
 * `localhost:8080`: without a configuration this throws, with what to do.
 */
export function loadKubeConfig(env: Env, saDir = SA_DIR): LoadedKubeConfig {
  const kc = new KubeConfig();
  let source: string;
  let contextNamespace: string | undefined;
  const host = env.KUBERNETES_SERVICE_HOST?.trim();
  if (host) {
    const port = env.KUBERNETES_SERVICE_PORT?.trim() || "443";
    const scheme = ["80", "8080", "8001"].includes(port) ? "http" : "https";
    const server = `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`;
    const nsFile = join(saDir, "namespace");
    contextNamespace = existsSync(nsFile) ? readFileSync(nsFile, "utf8").trim() || undefined : undefined;
    kc.loadFromOptions({
      clusters: [{ name: "inCluster", server, caFile: join(saDir, "ca.crt"), skipTLSVerify: false }],
      users: [{ name: "inClusterUser", authProvider: { name: "tokenFile", config: { tokenFile: join(saDir, "token") } } }],
      contexts: [{ name: "inClusterContext", cluster: "inCluster", user: "inClusterUser", namespace: contextNamespace }],
      currentContext: "inClusterContext",
    });
    source = "in-cluster service account";
  } else {
    const files = (env.KUBECONFIG ?? "")
      .split(delimiter)
      .map((f) => f.trim())
      .filter(Boolean);
    if (files.length === 0 && env.HOME) files.push(join(env.HOME, ".kube", "config"));
    const present = files.filter((f) => existsSync(f));
    if (present.length === 0) {
      throw new Error(
        `no Kubernetes configuration: KUBERNETES_SERVICE_HOST is not set (not in a cluster) and ` +
          `${files.length ? `${files.join(", ")} does not exist` : "neither KUBECONFIG nor HOME is set"}. ` +
          `Set KUBECONFIG to a kubeconfig file, or use YACI_EXECUTOR=local.`,
      );
    }
    kc.loadFromFile(present[0]!);
    // Like kubectl: the first file that defines a name (or the current context) wins.
    for (const f of present.slice(1)) {
      const more = new KubeConfig();
      more.loadFromFile(f);
      if (!kc.currentContext && more.currentContext) kc.setCurrentContext(more.currentContext);
      for (const c of more.clusters) if (!kc.getCluster(c.name)) kc.addCluster(c);
      for (const u of more.users) if (!kc.getUser(u.name)) kc.addUser(u);
      for (const c of more.contexts) if (!kc.getContextObject(c.name)) kc.addContext(c);
    }
    const ctx = kc.getContextObject(kc.getCurrentContext());
    if (!ctx) throw new Error(`kubeconfig ${present.join(", ")}: no current context; run \`kubectl config use-context NAME\``);
    contextNamespace = ctx.namespace || undefined;
    source = `kubeconfig ${present.join(delimiter)} (context ${ctx.name})`;
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`${source}: the current context names no cluster`);
  const namespace = env.YACI_NAMESPACE?.trim() || contextNamespace || "default";
  return { kc, namespace, source, server: cluster.server };
}

/** Same settings: equal values, Buffers (CA, client certificate and key) by content. */
function sameSettings(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[k];
    const y = b[k];
    if (x !== y && !(Buffer.isBuffer(x) && Buffer.isBuffer(y) && x.equals(y))) return false;
  }
  return true;
}

/**
 * One connection pool per API server for all of the executor's requests. client-node 2.0 makes a
 * new undici Agent for every request (`createDispatcher`), so each request opened a connection
 * (over TLS: a handshake) and left it, with its Agent, open until idle: ~3 sockets and 6 clients
 * per job at 100 jobs. The Agent is kept while the cluster and TLS settings stay the same (a
 * rotated client certificate gets a new one; the old one closes once its requests are done).
 */
export function shareConnections(kc: KubeConfig): KubeConfig {
  type Settings = Record<string, unknown>;
  type Dispatching = { createDispatcher?: (cluster: Settings | undefined, agentOptions: Settings) => unknown; yaciShared?: true };
  const k = kc as unknown as Dispatching;
  const make = k.createDispatcher;
  if (typeof make !== "function" || k.yaciShared) return kc;
  let current: { settings: Settings; dispatcher: unknown } | undefined;
  k.yaciShared = true;
  k.createDispatcher = (cluster, agentOptions) => {
    const c = cluster ?? {};
    const settings = { ...agentOptions, server: c.server, proxyUrl: c.proxyUrl, skipTLSVerify: c.skipTLSVerify };
    if (current && sameSettings(current.settings, settings)) return current.dispatcher;
    const old = current?.dispatcher as { close?: () => Promise<void> } | undefined;
    current = { settings, dispatcher: make.call(kc, cluster, agentOptions) };
    void old?.close?.().catch(() => {});
    return current.dispatcher;
  };
  return kc;
}
