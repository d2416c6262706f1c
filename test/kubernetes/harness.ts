import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunSpec } from "../../src/core/run.js";
import { runId } from "../../src/core/run-id.js";
import type { JobObservation } from "../../src/executors/executor.js";
import { createKubernetesExecutor, type KubernetesExecutor } from "../../src/executors/kubernetes/kubernetes-executor.js";
import type { KubernetesOptions } from "../../src/executors/kubernetes/options.js";
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
    extra?: { recoverWaitMs?: number; logStore?: LogStore; subscribe?: boolean; log?: Logger },
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
