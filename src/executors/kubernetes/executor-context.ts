import { BatchV1Api, CoreV1Api } from "@kubernetes/client-node";
import type { JobObservation } from "../executor.js";
import { realTimers, type Timers } from "./job-informer.js";
import type { ManifestOptions } from "./job-manifest.js";
import type { KubernetesExecutorDeps } from "./kubernetes-executor-deps.js";
import type { LogFollow } from "./log-follow.js";
import type { RunState } from "./run-state.js";

/**
 * Everything the executor's free functions share: its dependencies, API clients, and what this
 * process knows of the runs. One per `KubernetesExecutor`.
 */
export interface ExecutorContext {
  readonly d: KubernetesExecutorDeps;
  readonly batch: BatchV1Api;
  readonly core: CoreV1Api;
  readonly now: () => Date;
  readonly timers: Timers;
  readonly manifestOptions: ManifestOptions;
  readonly states: Map<string, RunState>;
  readonly finishedIds: Set<string>;
  /** Jobs this process created through claim(): start() must not create them again. */
  readonly claimedIds: Set<string>;
  readonly listeners: Set<(o: JobObservation) => void>;
  /** Observations emitted before anyone subscribed. */
  readonly queued: JobObservation[];
  readonly inFlight: Set<Promise<unknown>>;
  /** Runs whose live log someone watches (`followLog`): empty when nobody does. */
  readonly follows: Map<string, LogFollow>;
  closed: boolean;
  /** Jobs listed before recover() is done are held for it; after, everything flows to subscribers. */
  recoverState: "not-called" | "waiting" | "done";
  jobsListedOnce: boolean;
}

export function createExecutorContext(d: KubernetesExecutorDeps): ExecutorContext {
  return {
    d,
    batch: d.kc.makeApiClient(BatchV1Api),
    core: d.kc.makeApiClient(CoreV1Api),
    now: d.now ?? (() => new Date()),
    timers: d.timers ?? realTimers,
    manifestOptions: { ...d.options, namespace: d.namespace, githubApiUrl: d.githubApiUrl },
    states: new Map(),
    finishedIds: new Set(),
    claimedIds: new Set(),
    listeners: new Set(),
    queued: [],
    inFlight: new Set(),
    follows: new Map(),
    closed: false,
    recoverState: "not-called",
    jobsListedOnce: false,
  };
}

/** The run's state, created empty on first use. */
export function runStateOf(ctx: ExecutorContext, id: string): RunState {
  let s = ctx.states.get(id);
  if (!s) {
    s = { id, jobGone: false, pods: new Map(), held: false, finishing: false };
    ctx.states.set(id, s);
  }
  return s;
}

/** Keeps `p` among the work `close()` waits for until it settles. */
export function track<T>(ctx: ExecutorContext, p: Promise<T>): Promise<T> {
  ctx.inFlight.add(p);
  const done = () => ctx.inFlight.delete(p);
  p.then(done, done);
  return p;
}
