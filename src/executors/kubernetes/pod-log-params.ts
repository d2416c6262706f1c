import type { KubeConfig } from "@kubernetes/client-node";
import type { LogStore } from "../../logs/log-store.js";
import type { ExecutorContext } from "./executor-context.js";
import type { RunState } from "./run-state.js";

/** Which container's log to read, where to store it, and what to mask: shared by the final read and the live follow. */
export interface PodLogParams {
  kc: KubeConfig;
  namespace: string;
  pod: string;
  container: string;
  runId: string;
  logStore: LogStore;
  /** At most this many bytes (`limitBytes`): a longer log keeps its end. */
  maxBytes: number;
  /** Strings to mask (the checkout token, when this process knows it). */
  secrets?: readonly string[];
}

export function podLogParams(ctx: ExecutorContext, state: RunState, target: { pod: string; container: string }): PodLogParams {
  const { d } = ctx;
  return {
    kc: d.kc,
    namespace: d.namespace,
    pod: target.pod,
    container: target.container,
    runId: state.id,
    logStore: d.logStore,
    maxBytes: d.options.logMaxBytes,
    secrets: state.token ? [state.token] : [],
  };
}
