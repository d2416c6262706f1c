/**
 * The gate of `needs:`: a run that needs other jobs of its commit is recorded (and shown on
 * GitHub, queued, "Waiting for `build`") but not given to the executor until every job it needs
 * succeeded; it is skipped, with the reason, as soon as one of them ends any other way. A job
 * waiting for its needs is not waiting for capacity: the executor (and on Kubernetes the cluster)
 * sees it only once it may start. The verdict itself is pure: core/pipeline.ts.
 */
import { needsVerdict, type NeededRun } from "../core/pipeline.js";
import type { RunRecord } from "../core/run.js";
import type { JobObservation } from "../executors/executor.js";
import type { RunStore } from "./run-store.js";

export interface PipelineGateDeps {
  store: RunStore;
  now: () => Date;
  /** Gives a released run to the executor (a first start: on a shared backend, a claim). */
  launch: (r: RunRecord) => void;
  /** Applies an observation (a skipped run's end) as if the executor had made it. */
  observe: (o: JobObservation) => void;
  /** Writes a run's changed state to its check run. */
  report: (id: string) => void;
}

/** Is this run held back until the jobs it needs have ended? */
export function isHeld(r: RunRecord): boolean {
  return r.phase === "queued" && r.waitingFor !== undefined;
}

export class PipelineGate {
  /** Commits whose first claim is in flight on a shared backend (cancels wait for the outcome). */
  readonly undecided = new UndecidedCommits();

  constructor(private readonly d: PipelineGateDeps) {}

  /** A new run's record: held (waiting for all it needs) when it needs anything, else as given. */
  hold(r: RunRecord): RunRecord {
    const needs = r.spec.needs ?? [];
    return needs.length > 0 ? { ...r, waitingFor: [...needs] } : r;
  }

  /** The latest attempt of each job `r` needs. */
  private needed(r: RunRecord): Map<string, NeededRun> {
    const latest = new Map<string, NeededRun>();
    for (const job of r.spec.needs ?? []) {
      const attempts = this.d.store.attempts({ ...r.spec.key, job });
      const last = attempts[attempts.length - 1];
      if (last) latest.set(job, last);
    }
    return latest;
  }

  /** Decides one held run: starts it, skips it, or records what it still waits for. */
  evaluate(r: RunRecord): void {
    if (!isHeld(r)) return;
    const v = needsVerdict(r.spec.needs ?? [], this.needed(r));
    switch (v.kind) {
      case "start": {
        // Its place in the fair queue starts now: it was not waiting for capacity until now.
        const next: RunRecord = { ...r, spec: { ...r.spec, acceptedAt: this.d.now().toISOString() } };
        delete next.waitingFor;
        this.d.store.put(next);
        this.d.launch(next);
        return;
      }
      case "skip":
        this.d.observe({ runId: r.spec.id, phase: "finished", outcome: "skipped", finishedAt: this.d.now(), message: v.reason });
        return;
      case "wait":
        if (v.waitingFor.join("\n") === r.waitingFor!.join("\n")) return;
        this.d.store.put({ ...r, waitingFor: v.waitingFor });
        this.d.report(r.spec.id);
        return;
    }
  }

  /** A run completed: decides the held runs of its commit that need its job. */
  completed(done: RunRecord): void {
    const { owner, repo, sha, job } = done.spec.key;
    const waiting = this.d.store.list(
      (x) => isHeld(x) && x.spec.key.sha === sha && x.spec.key.owner === owner && x.spec.key.repo === repo && (x.spec.needs ?? []).includes(job),
    );
    for (const r of waiting) this.evaluate(this.d.store.get(r.spec.id) ?? r);
  }

  /** Decides every held run of the given ids (after re-runs were recorded, or at start-up: what they need may have ended meanwhile). */
  evaluateAll(filter: (r: RunRecord) => boolean = () => true): void {
    for (const r of this.d.store.list((x) => isHeld(x) && filter(x))) this.evaluate(this.d.store.get(r.spec.id) ?? r);
  }
}

/**
 * Commits whose owner is not decided yet: on a backend shared by replicas, the claim of their first
 * ready run is in flight (the scheduler's `startAccepted`). A cancel of one of their runs (a newer
 * push on the branch) waits for the decision: the replica that loses must neither show nor cancel
 * anything of a commit that is another replica's; the one that wins applies it then.
 */
export class UndecidedCommits {
  /** Per commit: the cancels held meanwhile (run id → who or what cancelled it). */
  private readonly cancels = new Map<string, Map<string, string | undefined>>();

  private static key(r: RunRecord): string {
    const { owner, repo, sha } = r.spec.key;
    return `${owner}/${repo}@${sha}`;
  }

  /** The claim of `first` (the first ready run of its commit) starts. */
  begin(first: RunRecord): void {
    const key = UndecidedCommits.key(first);
    if (!this.cancels.has(key)) this.cancels.set(key, new Map());
  }

  /** Holds the cancel of a run whose commit is undecided (true); false when it may be cancelled now. */
  deferCancel(r: RunRecord, by: string | undefined): boolean {
    const held = this.cancels.get(UndecidedCommits.key(r));
    if (!held) return false;
    if (!held.has(r.spec.id)) held.set(r.spec.id, by);
    return true;
  }

  /** The claim of `first` was decided: the cancels held meanwhile, to apply if the commit is ours. */
  decided(first: RunRecord): Array<[id: string, by: string | undefined]> {
    const key = UndecidedCommits.key(first);
    const held = this.cancels.get(key);
    this.cancels.delete(key);
    return [...(held ?? [])];
  }
}
