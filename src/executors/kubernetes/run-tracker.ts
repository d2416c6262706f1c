import type { V1Job, V1Pod } from "@kubernetes/client-node";
import type { Timers } from "../../clock.js";
import type { RunSpec } from "../../core/run.js";
import type { Logger } from "../../logger.js";
import type { JobObservation, RecoveredJob } from "../executor.js";
import { apiMessage } from "./api-error.js";
import { classifyRun, liveLogTarget, observationKey, type Classification, type ImagePullSince, type ObserveClassification } from "./classify-pod.js";
import { ANNOTATIONS, RUN_ID_LABEL, specFromJob } from "./job-manifest.js";
import type { WatchEventType } from "./list-watch.js";
import { newestPod, startUnfinished, withoutSpecAnnotation, type SeenPod } from "./pod-status.js";
import type { RunLogs } from "./run-logs.js";

type Finished = Extract<JobObservation, { phase: "finished" }>;

/** What this process knows of one run (one Job). */
interface RunState {
  id: string;
  spec?: RunSpec;
  job?: V1Job;
  jobGone: boolean;
  pods: Map<string, SeenPod>;
  /** Present in the cluster when this process first listed it: reported through `recover()`. */
  held: boolean;
  /** `finished` was decided: nothing else is emitted for this run. */
  finishing: boolean;
  imagePull?: ImagePullSince;
  lastKey?: string;
  timer?: unknown;
  cancelRequested?: boolean;
  /** The checkout token, kept to mask it in saved logs. */
  token?: string;
  masked?: readonly string[]; // the values of the job's named secrets (memory only), masked in saved logs
  /** The log, saved early because the pod is being deleted (it would be gone at the end). */
  earlyLog?: Promise<void>;
  /** The Job ended before its pod's final status arrived: since when we wait for it. */
  podLagSince?: number;
}

/** How long to wait for a pod's final status after its Job ended (two watch streams, any order). */
const POD_LAG_WAIT_MS = 10_000;
const MAX_FINISHED_IDS = 50_000;

export interface RunTrackerDeps {
  /** Where the runs' observations go (in order; `finished` once per run). */
  emit: (o: JobObservation) => void;
  /** YACI_PENDING_TIMEOUT and YACI_IMAGE_PULL_GRACE. */
  options: { pendingTimeoutMs: number; imagePullGraceMs: number };
  logs: RunLogs;
  /** Deletes the run's Job (its pods and Secret go with it); one already gone is fine. */
  deleteJob: (runId: string) => Promise<void>;
  now: () => Date;
  timers: Timers;
  log?: Logger;
  /** The values of a run's named secrets, to mask its log when a restarted app adopts it (none when unreadable). */
  secretValues?: (spec: RunSpec) => Promise<readonly string[]>;
}

/** A run whose Job this process creates or adopts (see `RunTracker.adopt`). */
export interface AdoptedRun {
  /** The checkout token, minted for the Job: kept to mask it in saved logs. */
  setToken(token: string): void;
  /** The Job exists: deletes it if a cancel came meanwhile, then reports where the run is. */
  created(): Promise<void>;
}

function runIdOf(pod: V1Pod): string | undefined {
  return pod.metadata?.labels?.[RUN_ID_LABEL] ?? (pod.kind === "Job" ? pod.metadata?.name : undefined);
}

function secretsOf(state: RunState): string[] {
  return [...(state.token ? [state.token] : []), ...(state.masked ?? [])];
}

/** The observation, naming the run's newest pod (for `GET /get`). */
function withPod<T extends JobObservation>(state: RunState, o: T): T {
  const name = newestPod(state.pods.values())?.pod.metadata?.name;
  return name ? { ...o, podName: name } : o;
}

/**
 * Everything this process knows of the runs, fed by the Job and Pod watches, and the only code
 * that changes it: each change is classified (`classify`) and delivered. A new pending/running
 * observation is emitted once per change; an end saves the log, deletes the Job when YACI ends it,
 * then emits `finished`, exactly once per run per process (through `emit`: the executor delivers
 * to its subscribers).
 *
 * Jobs found by the first list are held for `recover()`, which reports them; after it, everything
 * flows to subscribers. After `close()` nothing more is evaluated; `settled()` waits for the runs
 * that were finishing.
 */
export class RunTracker {
  private readonly states = new Map<string, RunState>();
  /** Runs that finished in this process (bounded, oldest forgotten first). */
  private readonly finishedIds = new Set<string>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;
  /** `recover()` ran: Jobs seen from then on are not held for it. */
  private recovered = false;
  private jobsListedOnce = false;

  constructor(private readonly d: RunTrackerDeps) {}

  /** The run finished in this process already (its Job must not be created again). */
  hasFinished(runId: string): boolean {
    return this.finishedIds.has(runId);
  }

  /**
   * This process created (or adopts) the run's Job: the run is no longer held for `recover()`.
   * `undefined` when the run already finished in this process. `masked`: its secrets' values.
   */
  adopt(spec: RunSpec, masked: readonly string[] = []): AdoptedRun | undefined {
    if (this.finishedIds.has(spec.id)) return undefined;
    const state = this.stateOf(spec.id);
    state.spec = spec;
    state.masked = masked;
    state.held = false;
    return {
      setToken: (token) => {
        state.token = token;
      },
      created: async () => {
        if (state.cancelRequested) await this.d.deleteJob(spec.id).catch(() => {});
        // An adopted Job may already be known (held for recover(), or seen before): report where it is.
        this.evaluate(state);
      },
    };
  }

  /**
   * Cancels the run: saves its log (with a note), deletes its Job, then emits `finished:
   * cancelled`. A run that already ended on its own is reported as it ended instead.
   */
  async cancel(runId: string): Promise<void> {
    if (this.finishedIds.has(runId)) return;
    const state = this.stateOf(runId);
    if (state.finishing) return;
    state.held = false;
    const finishedAt = this.d.now();
    const c = this.classifyState(state, finishedAt);
    if (c.kind === "finish" && c.observation.outcome !== "cancelled") {
      // It ended on its own before the cancel arrived: report what really happened.
      this.evaluate(state);
      return;
    }
    state.finishing = true;
    state.cancelRequested = true;
    this.clearTimer(state);
    const startedAt = c.observation.phase === "pending" ? undefined : c.observation.startedAt;
    const obs: Finished = { runId, phase: "finished", outcome: "cancelled", finishedAt, message: "cancelled", ...(startedAt ? { startedAt } : {}) };
    await this.track(
      (async () => {
        await this.d.logs.stop(runId);
        await this.d.logs.save(runId, c.kind === "finish" ? c.log : liveLogTarget(newestPod(state.pods.values())), "yaci: cancelled\n", secretsOf(state));
        try {
          await this.d.deleteJob(runId);
        } catch (err) {
          state.finishing = false;
          state.cancelRequested = false;
          this.evaluate(state);
          throw err;
        }
        this.finish(state, obs);
      })(),
    );
  }

  /**
   * Reports every Job held since the first list, rebuilt from its spec annotation: where it is
   * now, or how it ended (its log saved and, when YACI ends it, its Job deleted, unless already
   * reported). From now on nothing is held.
   */
  async recover(): Promise<RecoveredJob[]> {
    this.recovered = true;
    const out: RecoveredJob[] = [];
    const now = this.d.now();
    for (const state of [...this.states.values()]) {
      if (!state.held) continue;
      state.held = false;
      const job = state.job;
      const spec = job ? specFromJob(job) : undefined;
      if (!spec) {
        this.d.log?.warn({ runId: state.id }, `kubernetes: Job ${state.id} has no readable ${ANNOTATIONS.spec} annotation: ignoring it`);
        continue;
      }
      state.spec = spec;
      const reported = job?.metadata?.annotations?.[ANNOTATIONS.reported] === "true";
      if (!reported && spec.secrets?.length && !spec.secretsWithheld) state.masked = await this.d.secretValues?.(spec);
      const c = this.classifyState(state, now);
      if (c.kind === "finish") {
        state.finishing = true;
        this.rememberFinished(state.id);
        if (!reported) {
          if (c.deleteJob) await this.d.deleteJob(state.id).catch((err) => this.d.log?.warn({ runId: state.id }, `kubernetes: could not delete Job ${state.id}: ${apiMessage(err)}`));
          if (await this.d.logs.isEmpty(state.id)) await this.d.logs.save(state.id, c.log, c.observation.message && !c.log ? `yaci: ${c.observation.message}\n` : "", secretsOf(state));
        }
        out.push({ spec, observation: c.observation, ...(reported ? { reported: true } : {}) });
        this.states.delete(state.id);
      } else {
        state.lastKey = observationKey(c.observation);
        this.scheduleRecheck(state, c);
        this.resumeLogFollow(state); // someone may have opened its page while it was held
        out.push({ spec, observation: c.observation, ...(job && startUnfinished(job) ? { unstarted: true } : {}) });
      }
    }
    return out;
  }

  /** A viewer watches the run until `signal` aborts: its live log is copied meanwhile (`RunLogs`). */
  followLog(runId: string, signal: AbortSignal): void {
    if (this.closed || signal.aborted || this.finishedIds.has(runId)) return;
    this.d.logs.watch(runId, signal);
    const state = this.states.get(runId);
    if (state) this.resumeLogFollow(state);
  }

  /** A complete list of the Jobs: the first one holds those from before this process for recover(). */
  onJobList(items: V1Job[]): void {
    const seen = new Set<string>();
    const first = !this.jobsListedOnce;
    this.jobsListedOnce = true;
    for (const job of items) {
      const id = job.metadata?.name;
      if (!id || this.finishedIds.has(id)) continue; // finished here already: nothing of it is kept
      seen.add(id);
      const known = this.states.get(id);
      const s = this.stateOf(id);
      // Jobs from before this process are reported by recover(), once it is called.
      if (first && !this.recovered && !s.spec && !known?.job) s.held = true;
      s.job = s.spec ? withoutSpecAnnotation(job) : job; // its spec annotation is read only by recover()
      s.jobGone = false;
    }
    for (const s of [...this.states.values()]) {
      if (s.job && !seen.has(s.id)) this.jobDeleted(s);
    }
    for (const s of [...this.states.values()]) if (s.job) this.evaluate(s);
  }

  onJobEvent(type: WatchEventType, job: V1Job): void {
    const id = job.metadata?.name;
    if (!id || this.finishedIds.has(id)) return;
    const s = this.stateOf(id);
    s.job = s.spec ? withoutSpecAnnotation(job) : job; // its spec annotation is read only by recover()
    if (type === "DELETED") this.jobDeleted(s);
    else {
      s.jobGone = false;
      this.evaluate(s);
    }
  }

  /** A complete list of the pods: any pod not in it is gone. */
  onPodList(items: V1Pod[]): void {
    const seen = new Set<string>();
    for (const pod of items) {
      const id = runIdOf(pod);
      const name = pod.metadata?.name;
      if (!id || !name || this.finishedIds.has(id)) continue;
      seen.add(name);
      this.stateOf(id).pods.set(name, { pod, gone: false });
    }
    for (const s of [...this.states.values()]) {
      let changed = false;
      for (const [name, p] of s.pods) {
        if (!seen.has(name) && !p.gone) {
          p.gone = true;
          changed = true;
        }
      }
      if (changed) this.podsChanged(s);
      else if (s.job) this.evaluate(s);
      this.resumeLogFollow(s);
    }
  }

  onPodEvent(type: WatchEventType, pod: V1Pod): void {
    const id = runIdOf(pod);
    const name = pod.metadata?.name;
    if (!id || !name || this.finishedIds.has(id)) return;
    const s = this.stateOf(id);
    s.pods.set(name, { pod, gone: type === "DELETED" });
    this.podsChanged(s);
    this.resumeLogFollow(s);
  }

  /** Stops evaluating runs and their timers, and every live-log stream. */
  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.states.values()) this.clearTimer(s);
    await this.d.logs.close();
  }

  /** Resolves when the work started so far (finishing runs, their logs) has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight, this.d.logs.settled()]);
  }

  /** The run's state, created empty on first use. */
  private stateOf(id: string): RunState {
    let s = this.states.get(id);
    if (!s) {
      s = { id, jobGone: false, pods: new Map(), held: false, finishing: false };
      this.states.set(id, s);
    }
    return s;
  }

  private jobDeleted(s: RunState): void {
    s.jobGone = true;
    if (s.finishing) {
      // Ended and now gone (TTL, our delete): forget it, keep only its id.
      this.clearTimer(s);
      this.states.delete(s.id);
      return;
    }
    this.evaluate(s);
  }

  private podsChanged(s: RunState): void {
    if (!s.job && !s.spec) {
      // Pods of a Job we have not seen (yet): keep live ones, forget deleted ones.
      for (const [name, p] of s.pods) if (p.gone) s.pods.delete(name);
      if (s.pods.size === 0 && !s.held) this.states.delete(s.id);
      return;
    }
    this.evaluate(s);
  }

  /** Classifies the run as known now, tracking since when its current image-pull error lasts. */
  private classifyState(state: RunState, now: Date): Classification {
    const { classification, imagePull } = classifyRun(state, now, this.d.options);
    state.imagePull = imagePull;
    return classification;
  }

  /**
   * Classifies the run as known now and delivers the result (see the class comment). Runs held
   * for `recover()`, finishing or finished are left alone.
   */
  private evaluate(state: RunState): void {
    if (this.closed || state.held || state.finishing || this.finishedIds.has(state.id)) return;
    if (!state.job && !state.jobGone) return;
    if (!state.job && state.jobGone && !state.spec) return;
    const c = this.classifyState(state, this.d.now());
    if (c.kind === "observe") {
      this.scheduleRecheck(state, c);
      this.saveLogEarlyIfPodIsGoing(state);
      const key = observationKey(c.observation);
      if (key !== state.lastKey) {
        state.lastKey = key;
        this.d.emit(withPod(state, c.observation));
      }
      return;
    }
    if (c.podLagging && !state.jobGone) {
      const now = this.d.now().getTime();
      state.podLagSince ??= now;
      const left = state.podLagSince + POD_LAG_WAIT_MS - now;
      if (left > 0) {
        this.setTimer(state, left + 5, () => this.evaluate(state));
        return;
      }
    }
    state.finishing = true;
    this.clearTimer(state);
    void this.track(
      (async () => {
        // The live-log copy stops before the final log rewrites the file: it never appends after it.
        await this.d.logs.stop(state.id);
        if (c.deleteJob) {
          await this.d.deleteJob(state.id).catch((err) => this.d.log?.warn({ runId: state.id }, `kubernetes: could not delete Job ${state.id}: ${apiMessage(err)}`));
        }
        if (state.earlyLog) await state.earlyLog;
        else await this.d.logs.save(state.id, c.log, c.observation.message && !c.log ? `yaci: ${c.observation.message}\n` : "", secretsOf(state));
        this.finish(state, c.observation);
      })(),
    ).catch((err) => this.d.log?.error({ runId: state.id }, `kubernetes: finishing ${state.id} failed: ${apiMessage(err)}`));
  }

  /** Evaluates the run again when its classification says something will change by itself. */
  private scheduleRecheck(state: RunState, c: ObserveClassification): void {
    this.clearTimer(state);
    if (!c.recheckAt || this.closed) return;
    const ms = Math.max(0, c.recheckAt.getTime() - this.d.now().getTime()) + 5;
    this.setTimer(state, ms, () => this.evaluate(state));
  }

  /** A pod being deleted (deadline, eviction, drain) takes its log along: read it now (the live copy stops first). */
  private saveLogEarlyIfPodIsGoing(state: RunState): void {
    const p = newestPod(state.pods.values());
    if (state.earlyLog || !p || p.gone || !p.pod.metadata?.deletionTimestamp) return;
    const target = liveLogTarget(p);
    if (target) state.earlyLog = this.track(this.d.logs.stop(state.id).then(() => this.d.logs.save(state.id, target, "", secretsOf(state))));
  }

  /**
   * Lets the run's live-log stream start (called when a watcher comes and on every pod change of
   * the run), unless the run is held for recover(), ending, or its log was already saved early:
   * then the final log is (being) written.
   */
  private resumeLogFollow(state: RunState): void {
    if (this.closed || state.held || state.finishing || state.earlyLog || this.finishedIds.has(state.id)) return;
    this.d.logs.resume(state.id, () => liveLogTarget(newestPod(state.pods.values())), secretsOf(state));
  }

  /** Emits the run's one `finished` (at most once per process) and forgets what is no longer needed. */
  private finish(state: RunState, obs: Finished): void {
    if (this.finishedIds.has(state.id)) return;
    this.rememberFinished(state.id);
    state.token = state.masked = undefined;
    this.d.log?.info(
      { runId: state.id },
      `kubernetes: ${state.id} finished: ${obs.outcome}${obs.exitCode !== undefined ? ` (exit code ${obs.exitCode})` : ""}${obs.message ? `: ${obs.message}` : ""}`,
    );
    this.d.emit(withPod(state, obs));
    this.states.delete(state.id); // only its id is kept (finishedIds): its later events are ignored
  }


  /** Remembers (bounded, oldest forgotten first) that a run has finished in this process. */
  private rememberFinished(id: string): void {
    this.finishedIds.add(id);
    if (this.finishedIds.size > MAX_FINISHED_IDS) {
      const oldest = this.finishedIds.values().next().value;
      if (oldest !== undefined) this.finishedIds.delete(oldest);
    }
  }

  /** Arms the run's one timer (replacing any other); it clears itself before calling `fire`. */
  private setTimer(state: RunState, ms: number, fire: () => void): void {
    this.clearTimer(state);
    state.timer = this.d.timers.setTimeout(() => {
      state.timer = undefined;
      fire();
    }, ms);
  }

  private clearTimer(state: RunState): void {
    if (state.timer !== undefined) this.d.timers.clearTimeout(state.timer);
    state.timer = undefined;
  }

  /** Keeps `p` among the work `settled()` waits for until it settles. */
  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const done = () => this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }
}
