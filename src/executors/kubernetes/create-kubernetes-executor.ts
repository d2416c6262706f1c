import type { KubeConfig } from "@kubernetes/client-node";
import type { LogStore } from "../../logs/log-store.js";
import type { CheckoutTokenSource } from "../executor.js";
import type { Logger, Timers } from "./job-informer.js";
import { loadKubeConfig } from "./kube-config.js";
import { KubernetesExecutor } from "./kubernetes-executor.js";
import { kubernetesOptionsFromEnv, type KubernetesOptions } from "./options.js";

export interface CreateKubernetesExecutorParams {
  env: Record<string, string | undefined>;
  logStore: LogStore;
  checkoutToken: CheckoutTokenSource;
  /** GitHub's REST base URL, for the checkout tarball. */
  githubApiUrl: string;
  log?: Logger;
  /** Tests: a ready KubeConfig (and namespace) instead of loading one from `env`. */
  kubeConfig?: { kc: KubeConfig; namespace: string };
  /** Tests: settings on top of those read from `env` (e.g. millisecond grace periods). */
  options?: Partial<KubernetesOptions>;
  now?: () => Date;
  timers?: Timers;
  recoverWaitMs?: number;
  backoff?: { initialMs: number; maxMs: number };
}

/**
 * Builds the Kubernetes executor from the environment (YACI_EXECUTOR=kubernetes). Throws, with
 * what to do, when there is no usable configuration; an unreachable cluster is not an error
 * here: the executor logs it and keeps retrying, and `ready()` stays false until it answers.
 */
export async function createKubernetesExecutor(p: CreateKubernetesExecutorParams): Promise<KubernetesExecutor> {
  const options = { ...kubernetesOptionsFromEnv(p.env), ...p.options };
  let kc: KubeConfig;
  let namespace: string;
  if (p.kubeConfig) {
    ({ kc, namespace } = p.kubeConfig);
    namespace = options.namespace ?? namespace;
  } else {
    const loaded = loadKubeConfig(p.env);
    kc = loaded.kc;
    namespace = loaded.namespace;
    p.log?.info(`kubernetes: jobs go to namespace "${namespace}" on ${loaded.server} (${loaded.source})`);
  }
  return new KubernetesExecutor({
    kc,
    namespace,
    options,
    logStore: p.logStore,
    checkoutToken: p.checkoutToken,
    githubApiUrl: p.githubApiUrl,
    ...(p.log ? { log: p.log } : {}),
    ...(p.now ? { now: p.now } : {}),
    ...(p.timers ? { timers: p.timers } : {}),
    ...(p.recoverWaitMs !== undefined ? { recoverWaitMs: p.recoverWaitMs } : {}),
    ...(p.backoff ? { backoff: p.backoff } : {}),
  });
}
