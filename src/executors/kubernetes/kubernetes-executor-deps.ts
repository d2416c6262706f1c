import type { KubeConfig } from "@kubernetes/client-node";
import type { LogStore } from "../../logs/log-store.js";
import type { CheckoutTokenSource } from "../executor.js";
import type { Logger, Timers } from "./job-informer.js";
import type { KubernetesOptions } from "./options.js";

export interface KubernetesExecutorDeps {
  kc: KubeConfig;
  namespace: string;
  options: KubernetesOptions;
  logStore: LogStore;
  checkoutToken: CheckoutTokenSource;
  githubApiUrl: string;
  log?: Logger;
  /** Injectable clock and timers (grace periods, pending timeout): tests use small durations. */
  now?: () => Date;
  timers?: Timers;
  /** How long `recover()` waits for the first list before it gives up (default 15 s). */
  recoverWaitMs?: number;
  /** Retry delays of the list/watch loop (default 1 s → 30 s). */
  backoff?: { initialMs: number; maxMs: number };
}
