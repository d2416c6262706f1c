import { existsSync, readFileSync } from "node:fs";
import { isIPv6 } from "node:net";
import { delimiter, join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";

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

type Env = Record<string, string | undefined>;

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
