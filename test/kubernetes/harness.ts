import type { QueueSettings } from "../../src/executors/kubernetes/admission.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunSpec } from "../../src/core/run.js";
import { runId } from "../../src/core/run-id.js";
import type { JobObservation } from "../../src/executors/executor.js";
import { createKubernetesExecutor, type KubernetesExecutor } from "../../src/executors/kubernetes/kubernetes-executor.js";
import type { KubernetesOptions } from "../../src/executors/kubernetes/options.js";
import type { Timers } from "../../src/clock.js";
import type { Logger } from "../../src/logger.js";
import { LogStore } from "../../src/logs/log-store.js";
import { KubeStandIn } from "../support/kube-stand-in.js";

export const TOKEN = "ghs_0123456789abcdefghijABCDEFGHIJ012345";

export function makeSpec(over: Partial<RunSpec> & { job?: string; sha?: string } = {}): RunSpec {
  const { job = "test", sha = "0123456789abcdef0123456789abcdef01234567", ...rest } = over;
  const key = { owner: "octo-org", repo: "hello-world", sha, job };
  const attempt = rest.attempt ?? 1;
  return {
    id: runId(key, attempt),
    key,
    attempt,
    event: "push",
    installationId: 4242,
    ref: "refs/heads/main",
    image: "node:22-alpine",
    run: "npm ci\nnpm test",
    timeoutMs: 15 * 60_000,
    env: { NODE_ENV: "test" },
    checkout: true,
    ...rest,
  };
}

/** Records observations and waits for them. */
export class Recorder {
  readonly all: JobObservation[] = [];
  private waiters: Array<() => void> = [];

  readonly push = (o: JobObservation): void => {
    this.all.push(o);
    for (const w of this.waiters.splice(0)) w();
  };

  of(runId: string): JobObservation[] {
    return this.all.filter((o) => o.runId === runId);
  }

  finished(runId: string): Array<Extract<JobObservation, { phase: "finished" }>> {
    return this.of(runId).filter((o): o is Extract<JobObservation, { phase: "finished" }> => o.phase === "finished");
  }

  /** Resolves with the first observation matching `pred` (past or future); rejects after `ms`. */
  async waitFor(pred: (o: JobObservation) => boolean, ms = 10_000, what = "an observation"): Promise<JobObservation> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.all.find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; saw: ${JSON.stringify(this.all.map((o) => ({ ...o })), null, 1)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 500));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  waitPhase(runId: string, phase: JobObservation["phase"], ms?: number): Promise<JobObservation> {
    return this.waitFor((o) => o.runId === runId && o.phase === phase, ms, `${runId} ${phase}`);
  }
}

/**
 * Time the test moves: `now()` stands still, and a timer fires only when `advanceTo` passes its
 * moment (in order). For timeouts measured from the cluster's timestamps.
 */
export class ManualClock implements Timers {
  private t: number;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  constructor(startMs: number) {
    this.t = startMs;
  }

  readonly now = (): Date => new Date(this.t);
  readonly setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  };
  readonly clearTimeout = (handle: unknown): void => {
    this.pending.delete(handle as number);
  };

  /** Moves time to `ms`, firing every timer due by then, earliest first. */
  advanceTo(ms: number): void {
    for (;;) {
      const due = [...this.pending.entries()].filter(([, p]) => p.at <= ms).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
    }
    this.t = Math.max(this.t, ms);
  }
}

let sentinels = 0;

/**
 * The awaited signal for "nothing else happened": waits until the executor has handled every event
 * the stand-in sent before now and finished all the work they started. A sentinel run is created,
 * run and ended after them (its events follow theirs on the same watches); once its `finished` is
 * seen, the executor is closed, which awaits every finishing run and log save. After this, a
 * second observation of an earlier run can no longer come; check the recorder then.
 */
export async function quiesce(h: Pick<Harness, "standIn">, executor: KubernetesExecutor, rec?: Recorder): Promise<void> {
  if (!rec) executor.subscribe((rec = new Recorder()).push);
  const sentinel = makeSpec({ job: `sentinel-${++sentinels}`, event: "api", checkout: false });
  await executor.start(sentinel);
  h.standIn.kubelet.succeed(sentinel.id, "");
  await rec.waitPhase(sentinel.id, "finished");
  await executor.close();
}

/** Requests for a run's pod logs (the sentinels' excluded). */
export function logReads(h: Pick<Harness, "standIn">, runId?: string): number {
  return h.standIn.requests.filter((r) => r.resource === "pods/log" && !r.path.includes("sentinel-") && (runId === undefined || r.path.includes(runId))).length;
}

/** Polls `cond` until true (for stand-in state that the executor changes). */
export async function until(cond: () => boolean | Promise<boolean>, ms = 10_000, what = "a condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface Harness {
  standIn: KubeStandIn;
  dataDir: string;
  logStore: LogStore;
  tokens: RunSpec[];
  newExecutor(
    options?: Partial<KubernetesOptions>,
    extra?: { recoverWaitMs?: number; logStore?: LogStore; subscribe?: boolean; log?: Logger; clock?: ManualClock; queue?: QueueSettings },
  ): Promise<{ executor: KubernetesExecutor; rec: Recorder; logStore: LogStore }>;
  /** A LogStore in a fresh data dir (another machine's disk). */
  freshLogStore(): LogStore;
  close(): Promise<void>;
}

/** A stand-in, a data dir and a factory for executors wired to both (fast timings). */
export async function harness(standInOpts: Parameters<typeof KubeStandIn.start>[0] = {}): Promise<Harness> {
  const standIn = await KubeStandIn.start(standInOpts);
  const dataDir = mkdtempSync(join(tmpdir(), "yaci-k8s-"));
  const logStore = new LogStore(dataDir);
  const executors: KubernetesExecutor[] = [];
  const tokens: RunSpec[] = [];
  const dirs: string[] = [dataDir];
  return {
    standIn,
    dataDir,
    logStore,
    tokens,
    freshLogStore() {
      const dir = mkdtempSync(join(tmpdir(), "yaci-k8s-"));
      dirs.push(dir);
      return new LogStore(dir);
    },
    async newExecutor(options = {}, extra = {}) {
      const store = extra.logStore ?? logStore;
      const executor = await createKubernetesExecutor({
        env: {},
        logStore: store,
        checkoutToken: async (spec) => {
          tokens.push(spec);
          return TOKEN;
        },
        githubApiUrl: "https://api.github.com",
        kubeConfig: { kc: standIn.kubeConfig(), namespace: standIn.namespace },
        options: { pendingTimeoutMs: 60_000, imagePullGraceMs: 60_000, ...options },
        backoff: { initialMs: 50, maxMs: 500 },
        recoverWaitMs: extra.recoverWaitMs ?? 5_000,
        ...(extra.log ? { log: extra.log } : {}),
        ...(extra.clock ? { now: extra.clock.now, timers: extra.clock } : {}),
        ...(extra.queue ? { queue: extra.queue } : {}),
      });
      executors.push(executor);
      const rec = new Recorder();
      if (extra.subscribe !== false) executor.subscribe(rec.push);
      return { executor, rec, logStore: store };
    },
    async close() {
      await Promise.all(executors.map((e) => e.close()));
      await standIn.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** Captures what the executor logs. */
export function captureLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (_fields, m) => lines.push(`info ${m}`),
    warn: (_fields, m) => lines.push(`warn ${m}`),
    error: (_fields, m) => lines.push(`error ${m}`),
  };
}
