import type { RunSpec } from "../../src/core/run.js";
import type { Outcome } from "../../src/core/status.js";
import type { Executor, JobObservation, RecoveredJob } from "../../src/executors/executor.js";

/** A scripted executor: tests decide when each job starts and how it ends. Catches double starts. */
export class FakeExecutor implements Executor {
  readonly kind = "fake" as const;
  readonly started: RunSpec[] = [];
  readonly cancelled: string[] = [];
  readonly reported: string[] = [];
  recoverable: RecoveredJob[] = [];

  private readonly listeners = new Set<(o: JobObservation) => void>();

  subscribe(fn: (o: JobObservation) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(o: JobObservation): void {
    for (const fn of this.listeners) fn(o);
  }

  claim?: (spec: RunSpec) => Promise<"created" | "exists">;
  readonly claimed: string[] = [];

  /** Acts like a backend shared by replicas (Kubernetes): every claim answers `answer`. */
  claims(answer: "created" | "exists"): this {
    this.claim = async (spec) => {
      if (answer === "created") this.claimed.push(spec.id);
      return answer;
    };
    return this;
  }

  async start(spec: RunSpec): Promise<void> {
    if (this.started.some((s) => s.id === spec.id)) throw new Error(`double start of ${spec.id}`);
    this.started.push(spec);
    this.emit({ runId: spec.id, phase: "pending" });
  }

  run(id: string, at = new Date()): void {
    this.emit({ runId: id, phase: "running", startedAt: at });
  }

  finish(id: string, outcome: Outcome, exitCode?: number, at = new Date()): void {
    this.emit({ runId: id, phase: "finished", outcome, finishedAt: at, ...(exitCode === undefined ? {} : { exitCode }) });
  }

  async cancel(id: string): Promise<void> {
    this.cancelled.push(id);
    this.finish(id, "cancelled");
  }

  async recover(): Promise<RecoveredJob[]> {
    return this.recoverable;
  }

  async markReported(id: string): Promise<void> {
    this.reported.push(id);
  }

  async ready(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

FakeExecutor satisfies new () => Executor;
