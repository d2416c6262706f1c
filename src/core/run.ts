import { assertNever, outcomeToConclusion, type Conclusion, type Outcome, type RunPhase } from "./status.js";
import type { JobResources } from "../config/yaci-config.js";
import type { QueuePosition } from "./queue-policy.js";

/** Identifies one job of one commit: YACI runs it at most once per attempt. */
export interface RunKey {
  owner: string;
  repo: string;
  sha: string;
  job: string;
}

/** What triggered a run. `api` runs come from `POST /run` and have no repository. */
export type RunEvent = "push" | "pull_request" | "rerun" | "api";

/** Everything needed to run a job and report it, whatever the executor. Persisted. */
export interface RunSpec {
  /** Unique, deterministic id (a Kubernetes-safe name): see `runId()`. */
  id: string;
  key: RunKey;
  attempt: number;
  event: RunEvent;
  installationId: number;
  /** Full ref, e.g. `refs/heads/main` or `refs/pull/7/head`. */
  ref: string;
  prNumber?: number;
  image: string;
  /** The script, run with `sh -ec` (or `sh -c` when `errexit` is false: `POST /run`, as the original did). */
  run: string;
  errexit?: boolean;
  timeoutMs: number;
  env: Record<string, string>;
  resources?: JobResources;
  /** Clone the repository at `key.sha` into the workspace (false for `POST /run`). */
  checkout: boolean;
  /**
   * When YACI accepted this attempt (ISO time): its place in the fair queue (core/queue-policy.ts).
   * Absent in records written before the queue: the executor then uses its own time.
   */
  acceptedAt?: string;
  /** Jobs of the same commit (by name) whose latest attempts must succeed before this run starts. */
  needs?: string[];
  /** Names of secrets the job receives as environment variables (resolved by the executor at start). */
  secrets?: string[];
  /** Why the named secrets are not given to this run (a fork's pull request): shown in its summary. */
  secretsWithheld?: string;
  /** Not a job but a message shown as a check run (a broken `.yaci.yml`, a fork waiting for approval). */
  notice?: Notice;
}

/** The shell flags of a run: `-ec` (stop at the first failing command) unless the spec says otherwise. */
export function shellFlags(spec: Pick<RunSpec, "errexit">): "-ec" | "-c" {
  return spec.errexit === false ? "-c" : "-ec";
}

/**
 * Why a spec cannot be started by any executor (no program takes a NUL in its script, an argument
 * or its environment), or `undefined` when it can.
 */
export function invalidSpec(spec: Pick<RunSpec, "run" | "env">): string | undefined {
  if (spec.run.includes("\0")) return "the job's `run` contains a NUL character";
  for (const [name, value] of Object.entries(spec.env)) {
    if (name.includes("\0") || String(value).includes("\0")) {
      return `the job's environment variable ${JSON.stringify(name)} contains a NUL character`;
    }
  }
  return undefined;
}

/** A check run that reports something other than a job. */
export interface Notice {
  title: string;
  /** Markdown. */
  summary: string;
  /** A link for the check run (GitHub requires one for `action_required`). */
  detailsUrl?: string;
}

/** The last check-run state written to GitHub, to skip identical writes (level-triggered reporting). */
export interface ReportedState {
  phase: RunPhase;
  conclusion?: Conclusion;
  /** A fingerprint of the rest of the update (title + summary), so changed details are still sent. */
  digest: string;
}

/** A run as YACI tracks it: the spec plus what has been observed and reported. Persisted. */
export interface RunRecord {
  spec: RunSpec;
  executor: string;
  phase: RunPhase;
  outcome?: Outcome;
  conclusion?: Conclusion;
  exitCode?: number;
  /** Why it ended, for a person: "out of memory (limit 1Gi)", "interrupted: the runner restarted". */
  message?: string;
  /** While queued: why it waits (e.g. "unschedulable: 0/3 nodes have enough memory"). */
  waitingReason?: string;
  /**
   * While queued for the jobs it `needs` (not for a runner): the ones that have not ended yet. The
   * executor has not seen the run: the scheduler starts it (or skips it) when they end.
   */
  waitingFor?: string[];
  /** While queued for a runner: its place in line, as last shown on the check run. */
  queuePosition?: QueuePosition;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** The Kubernetes pod of the run, once there is one. */
  podName?: string;
  checkRunId?: number;
  /** Set just before the check run is created, so a restart looks for it before creating another. */
  checkRunCreating?: boolean;
  reported?: ReportedState;
  /** Why it was cancelled, for a person: "requested by @octocat", "superseded by abc1234". */
  cancelReason?: string;
}

/** What an executor saw of one run. Observations may repeat; consumers must be idempotent. */
export type JobObservation =
  | {
      runId: string;
      podName?: string;
      phase: "pending";
      waitingReason?: string;
      /** Its place in the fair queue; absent: unchanged (a run admitted to a runner has none). */
      queuePosition?: QueuePosition;
      /** Admitted: no longer waits for a runner (its queue position goes). */
      admitted?: boolean;
    }
  | { runId: string; podName?: string; phase: "running"; startedAt: Date }
  | {
      runId: string;
      /** The Kubernetes pod the run is in, when there is one (shown by `GET /get`). */
      podName?: string;
      phase: "finished";
      outcome: Outcome;
      finishedAt: Date;
      startedAt?: Date;
      exitCode?: number;
      /** A sentence for a person: "out of memory (limit 1Gi)", "image x could not be pulled". */
      message?: string;
    };

export const INTERRUPTED_MESSAGE = "interrupted: the runner restarted";

/**
 * The run state machine: queued → in_progress → completed, driven by what an executor observed.
 * Returns the new record, or `null` when the observation changes nothing (repeats, or anything
 * after completion: the first final result wins, so a result is never reported twice).
 */
export function applyObservation(r: RunRecord, o: JobObservation): RunRecord | null {
  if (r.phase === "completed") return null;
  const next = transition(r, o);
  if (next && o.podName) next.podName = o.podName;
  return next;
}

function transition(r: RunRecord, o: JobObservation): RunRecord | null {
  switch (o.phase) {
    case "pending": {
      if (r.phase !== "queued") return null;
      const position = o.queuePosition;
      const positionChanged =
        (position !== undefined && (r.queuePosition?.ahead !== position.ahead || r.queuePosition.aheadSameInstallation !== position.aheadSameInstallation)) ||
        (o.admitted === true && r.queuePosition !== undefined);
      if (r.waitingReason === o.waitingReason && !positionChanged) return null;
      const next: RunRecord = { ...r };
      if (o.waitingReason) next.waitingReason = o.waitingReason;
      else delete next.waitingReason;
      if (position) next.queuePosition = position;
      if (o.admitted) delete next.queuePosition;
      return next;
    }
    case "running": {
      if (r.phase === "in_progress") return null;
      const next: RunRecord = { ...r, phase: "in_progress", startedAt: r.startedAt ?? o.startedAt.toISOString() };
      delete next.waitingReason;
      delete next.queuePosition;
      return next;
    }
    case "finished": {
      const finishedAt = o.finishedAt.toISOString();
      const next: RunRecord = {
        ...r,
        phase: "completed",
        outcome: o.outcome,
        conclusion: outcomeToConclusion(o.outcome),
        startedAt: r.startedAt ?? o.startedAt?.toISOString() ?? finishedAt,
        finishedAt,
      };
      delete next.waitingReason;
      delete next.queuePosition;
      delete next.waitingFor;
      if (o.exitCode !== undefined) next.exitCode = o.exitCode;
      const message = o.message ?? (o.outcome === "interrupted" ? INTERRUPTED_MESSAGE : undefined);
      if (message) next.message = message;
      return next;
    }
    default:
      return assertNever(o, "observation");
  }
}
