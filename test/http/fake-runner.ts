import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import type { RunRecord, RunSpec } from "../../src/core/run.js";
import type { LogStore } from "../../src/logs/log-store.js";
import type { RunView, SubmitRequest } from "../../src/http/env.js";
import type { Metrics } from "../../src/observability/metrics.js";

/**
 * A test stand-in for the scheduler + local executor behind `POST /run`: it really runs the
 * command with `sh -c`, streams its output into the LogStore and keeps an in-memory RunRecord
 * (queued → in_progress → completed), calling the metrics as the scheduler does.
 */
export class FakeRunner {
  readonly records = new Map<string, RunView>();
  readonly submitted: SubmitRequest[] = [];
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly logs: LogStore,
    private readonly metrics?: Metrics,
    private readonly now: () => Date = () => new Date(),
  ) {}

  get = (id: string): RunView | undefined => {
    const r = this.records.get(id);
    return r && structuredClone(r);
  };

  /** A record the test drives by hand (no process). */
  create(id: string, patch: Partial<RunRecord> = {}, spec: Partial<RunSpec> = {}): RunView {
    const record: RunView = {
      spec: apiSpec(id, "true", "alpine", spec),
      executor: "local",
      phase: "queued",
      createdAt: this.now().toISOString(),
      ...patch,
    };
    this.records.set(id, record);
    return record;
  }

  update(id: string, patch: Partial<RunView>): void {
    const r = this.records.get(id);
    if (!r) throw new Error(`no record ${id}`);
    Object.assign(r, patch);
  }

  submit = async (req: SubmitRequest): Promise<{ id: string }> => {
    this.submitted.push(req);
    const id = `yaci-api-${randomUUID().slice(0, 8)}`;
    this.records.set(id, {
      spec: apiSpec(id, req.command, req.image),
      executor: "local",
      phase: "queued",
      createdAt: this.now().toISOString(),
    });
    this.metrics?.setQueueDepth(1);
    const p = this.execute(id, req.command);
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
    return { id };
  };

  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  private async execute(id: string, command: string): Promise<void> {
    await new Promise((r) => setTimeout(r, 20)); // stay queued for a moment, as a real queue would
    const startedAt = this.now();
    this.update(id, { phase: "in_progress", startedAt: startedAt.toISOString() });
    this.metrics?.setQueueDepth(0);
    this.metrics?.runStarted("local");
    const child = spawn("sh", ["-c", command], { stdio: ["ignore", "pipe", "pipe"] });
    let writes = Promise.resolve();
    const sink = (chunk: Buffer) => {
      writes = writes.then(() => this.logs.append(id, chunk));
    };
    child.stdout.on("data", sink);
    child.stderr.on("data", sink);
    const code = await new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? 1)));
    await writes; // the whole log is stored before the run is reported finished
    const conclusion = code === 0 ? "success" : "failure";
    const finishedAt = this.now();
    this.update(id, {
      phase: "completed",
      outcome: code === 0 ? "succeeded" : "failed",
      conclusion,
      exitCode: code,
      finishedAt: finishedAt.toISOString(),
    });
    this.metrics?.runFinished(conclusion, (finishedAt.getTime() - startedAt.getTime()) / 1000);
  }
}

export function apiSpec(id: string, command: string, image: string, patch: Partial<RunSpec> = {}): RunSpec {
  return {
    id,
    key: { owner: "", repo: "", sha: "", job: "api" },
    attempt: 1,
    event: "api",
    installationId: 0,
    ref: "",
    image,
    run: command,
    timeoutMs: 60_000,
    env: {},
    checkout: false,
    ...patch,
  };
}
