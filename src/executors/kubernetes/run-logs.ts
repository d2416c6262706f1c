import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../../logger.js";
import type { LogStore, LogTail } from "../../logs/log-store.js";
import { SecretMasker } from "../../logs/secret-masker.js";
import { apiMessage } from "./api-error.js";
import { openFollowStream, saveFinalLog, type FollowStream, type PodLogParams } from "./pod-logs.js";

/** The container whose log to read. */
export type LogTarget = { pod: string; container: string };

/** The watchers of one run's live log, and the stream they share. */
interface LogFollow {
  readonly runId: string;
  /** Viewers whose signal has not aborted yet. */
  watchers: number;
  /** The stream copying the pod's output, while one runs. */
  stream?: FollowStream;
  /** Pods streamed since the first watcher came: a stream that ended is not restarted for its pod. */
  readonly streamedPods: Set<string>;
  /** The stop of the last stream: a new stream's writes (its truncation first) wait for it. */
  lastStop: Promise<void>;
}

export interface RunLogsDeps {
  kc: KubeConfig;
  namespace: string;
  logStore: LogStore;
  /** YACI_LOG_MAX_BYTES: a longer log keeps its end. */
  maxBytes: number;
  /** YACI_LIVE_LOG_READS_PER_MINUTE: bounded `pods/log` reads for live check runs, in all. */
  liveReadsPerMinute: number;
  now: () => number;
  log?: Logger;
}

/** A running run whose log may be read for its check run (see `liveTail`). */
interface LiveRun {
  target: () => LogTarget | undefined;
  secrets: readonly string[];
  /** `tailLines` of its next read: halved while the lines do not fit `limitBytes`, doubled back when they do. */
  tailLines: number;
  /** When its log was last read from the API. */
  lastRead?: number;
}

const LIVE_TAIL_LINES = 1000;
/** Final log reads at once, at most: when many jobs end together, their buffers (≤ 64 KiB each) and connections stay bounded. */
const MAX_FINAL_READS = 32;

/**
 * The runs' logs in the LogStore: the final log saved when a run ends (one bounded `pods/log`
 * read), and the live copy while someone watches a running job. Watchers of one run are counted
 * and share one stream: the first starts it (now, or when the pod's main container starts), the
 * last to leave stops it. A stream started after everyone left copies from the start again (it
 * truncates the file). Costs nothing, and makes no request, when nobody watches a run.
 *
 * It knows nothing of the runs' state: the run tracker says when a stream may start (`resume`)
 * and must stop (`stop`, before the final log is written, so that one is never appended to).
 */
export class RunLogs {
  /** Runs whose live log someone watches: empty when nobody does. */
  private readonly follows = new Map<string, LogFollow>();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Running runs (between `resume` and `stop`): their log may be read for their check run. */
  private readonly live = new Map<string, LiveRun>();
  /** When each live `pods/log` read of the last minute went out (all runs). */
  private readonly liveReads: number[] = [];
  private readonly core: CoreV1Api;
  private finalReads = 0;
  private readonly waitingReads: Array<() => void> = [];

  constructor(private readonly d: RunLogsDeps) {
    this.core = d.kc.makeApiClient(CoreV1Api);
  }

  /** A viewer watches the run until `signal` aborts (call `resume` next: its stream may start). */
  watch(runId: string, signal: AbortSignal): void {
    let f = this.follows.get(runId);
    if (!f) {
      f = { runId, watchers: 0, streamedPods: new Set(), lastStop: Promise.resolve() };
      this.follows.set(runId, f);
    }
    const follow: LogFollow = f;
    follow.watchers++;
    signal.addEventListener("abort", () => this.leave(follow), { once: true });
  }

  /**
   * Starts the run's live-log stream when someone watches it, none runs, and `target` (the main
   * container of its live pod, once started) names a pod not streamed yet.
   */
  resume(runId: string, target: () => LogTarget | undefined, secrets: readonly string[]): void {
    const known = this.live.get(runId);
    this.live.set(runId, { ...known, target, secrets, tailLines: known?.tailLines ?? LIVE_TAIL_LINES });
    const f = this.follows.get(runId);
    if (!f || f.watchers === 0 || f.stream) return;
    const t = target();
    if (!t || f.streamedPods.has(t.pod)) return;
    f.streamedPods.add(t.pod);
    this.d.log?.info({ runId }, `kubernetes: ${runId}: streaming the live log of ${t.pod} (${f.watchers} watching)`);
    const stream = openFollowStream({
      ...this.params(runId, t, secrets),
      after: f.lastStop,
      ...(this.d.log ? { log: this.d.log } : {}),
    });
    f.stream = stream;
    void stream.done.then(() => {
      if (f.stream === stream) f.stream = undefined;
    });
  }

  /**
   * Stops the run's live-log stream, if one runs, and resolves once it will write nothing more to
   * the LogStore: the final log, written after this, is then never appended to.
   */
  async stop(runId: string): Promise<void> {
    this.live.delete(runId);
    const f = this.follows.get(runId);
    if (!f) return;
    const s = f.stream;
    if (s) {
      f.stream = undefined;
      f.lastStop = s.stop();
    }
    await f.lastStop;
  }

  /**
   * Saves the run's log to the LogStore before `finished` goes out: one bounded `pods/log`
   * read of the container that ran, then `note` (YACI's own explanation) when there is one.
   * `secrets` (the checkout token, when the run had one) are masked.
   */
  async save(runId: string, target: LogTarget | undefined, note: string, secrets: readonly string[]): Promise<void> {
    const { logStore } = this.d;
    if (!target) {
      if (note || (await logStore.size(runId)) === 0) await logStore.write(runId, note);
      return;
    }
    if (this.finalReads >= MAX_FINAL_READS) await new Promise<void>((resolve) => this.waitingReads.push(resolve));
    else this.finalReads++;
    try {
      await saveFinalLog({
        ...this.params(runId, target, secrets),
        ...(note ? { trailer: note } : {}),
      });
    } catch (err) {
      const msg = `yaci: the log of ${target.container} could not be read from Kubernetes: ${apiMessage(err)}\n`;
      this.d.log?.warn({ runId }, `kubernetes: ${runId}: ${msg.trim()}`);
      await logStore.write(runId, msg + note);
    } finally {
      // The slot passes to the next waiting read (FIFO), or is freed.
      const next = this.waitingReads.shift();
      if (next) next();
      else this.finalReads--;
    }
  }

  /**
   * The end of a running run's log, for its check run: from the LogStore while its run page's
   * stream copies it there (no request), else ONE bounded `pods/log` read (`tailLines`,
   * `limitBytes`), at most `liveReadsPerMinute` of them a minute in all, shared fairly: a run
   * waits a minute × running runs ÷ cap between two reads. Past that, undefined (the next refresh
   * tries again). Undefined too once the run is ending (`stop`).
   */
  async liveTail(runId: string, maxBytes: number): Promise<LogTail | undefined> {
    const run = this.live.get(runId);
    const t = run?.target();
    if (!run || !t) return undefined;
    if (this.follows.get(runId)?.stream) return this.d.logStore.tail(runId, maxBytes);
    const now = this.d.now();
    while (this.liveReads.length && this.liveReads[0]! <= now - 60_000) this.liveReads.shift();
    if (this.liveReads.length >= this.d.liveReadsPerMinute) return undefined;
    if (run.lastRead !== undefined && now - run.lastRead < (60_000 * this.live.size) / this.d.liveReadsPerMinute) return undefined;
    this.liveReads.push(now);
    run.lastRead = now;
    const asked = run.tailLines;
    let raw: string;
    try {
      raw = await this.core.readNamespacedPodLog({ name: t.pod, namespace: this.d.namespace, container: t.container, tailLines: asked, limitBytes: maxBytes });
    } catch (err) {
      this.d.log?.info({ runId }, `kubernetes: ${runId}: could not read the live log of ${t.pod}: ${apiMessage(err)}`);
      return undefined;
    }
    if (this.live.get(runId) !== run) return undefined; // ended meanwhile: the final log is the one
    const bytes = Buffer.byteLength(raw);
    const lines = raw.split("\n").length - (raw.endsWith("\n") ? 1 : 0);
    const cut = bytes >= maxBytes; // the last lines did not fit: fewer next time
    if (cut) run.tailLines = Math.max(1, Math.floor(lines / 2));
    else if (bytes < maxBytes / 4) run.tailLines = Math.min(LIVE_TAIL_LINES, run.tailLines * 2);
    const earlier = cut || lines >= asked ? `[yaci: earlier lines are left out here; the run page shows the whole log]\n` : "";
    const text = earlier + new SecretMasker(run.secrets).mask(raw);
    return { text, omittedBytes: 0, totalBytes: Buffer.byteLength(text) };
  }

  /** Nothing is stored for the run yet. */
  async isEmpty(runId: string): Promise<boolean> {
    return (await this.d.logStore.size(runId)) === 0;
  }

  /** Stops every live-log stream (shutdown). */
  async close(): Promise<void> {
    await Promise.all([...this.follows.keys()].map((id) => this.stop(id)));
  }

  /** Resolves when the streams stopped by leaving watchers have written their last bytes. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  private leave(f: LogFollow): void {
    f.watchers--;
    if (f.watchers > 0) return;
    f.streamedPods.clear();
    const s = f.stream;
    if (s) {
      f.stream = undefined;
      f.lastStop = this.track(s.stop());
    }
    const stopped = f.lastStop;
    void stopped.then(() => {
      // Forget the run unless someone came back meanwhile (then the entry is theirs).
      if (f.watchers === 0 && f.lastStop === stopped && this.follows.get(f.runId) === f) this.follows.delete(f.runId);
    });
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const done = () => this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  private params(runId: string, target: LogTarget, secrets: readonly string[]): PodLogParams {
    const { d } = this;
    return { kc: d.kc, namespace: d.namespace, pod: target.pod, container: target.container, runId, logStore: d.logStore, maxBytes: d.maxBytes, secrets };
  }
}
