import { Watch, type KubeConfig } from "@kubernetes/client-node";
import { realTimers, type Timers } from "../../clock.js";
import { httpStatusOf } from "../../http-status.js";
import type { Logger } from "../../logger.js";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface KubeObject {
  metadata?: { name?: string; resourceVersion?: string; uid?: string; labels?: Record<string, string> };
}

export interface ListWatchOptions<T extends KubeObject> {
  /** For log lines: "jobs", "pods". */
  name: string;
  kc: KubeConfig;
  /** The collection's path, e.g. `/apis/batch/v1/namespaces/ci/jobs`. */
  path: string;
  labelSelector: string;
  /**
   * One page of the list: at most `limit` items, from `continue` (the previous page's token);
   * its items, the list's resourceVersion, and the next page's token when there is one.
   */
  list: (page: { limit: number; continue?: string }) => Promise<{ items: T[]; resourceVersion: string; continue?: string }>;
  /** Items per list page (default 500): a re-list of thousands of objects is never one huge answer. */
  pageSize?: number;
  /** What is kept of each object (listed or watched) before it reaches `onList`/`onEvent`: the fields YACI reads. */
  trim?: (obj: T) => T;
  /** The complete current state after each (re)list: anything not in it is gone. */
  onList: (items: T[]) => void;
  onEvent: (type: WatchEventType, obj: T) => void;
  /** Re-list this often even when the watch looks healthy (a safety net), 0 = never. */
  relistIntervalMs: number;
  /** Retry delays after errors: doubling from `initialMs` up to `maxMs`. */
  backoff?: { initialMs: number; maxMs: number };
  log?: Logger;
  timers?: Timers;
}

type WatchEnd = { kind: "closed" } | { kind: "timeout" } | { kind: "gone" } | { kind: "relist" } | { kind: "error"; error: unknown };

function describe(err: unknown): string {
  if (err && typeof err === "object") {
    const e = err as { message?: string; cause?: { code?: string; message?: string } };
    const status = httpStatusOf(err);
    const cause = e.cause?.code ?? e.cause?.message;
    return [status ? `HTTP ${status}` : undefined, e.message, cause].filter(Boolean).join(": ");
  }
  return String(err);
}

function isGone(err: unknown): boolean {
  return httpStatusOf(err) === 410;
}

/**
 * One list + watch over a collection, by label selector: the shared status follower's eyes.
 * - resumes a dropped watch from the last resourceVersion seen (events and bookmarks);
 * - re-lists on `410 Gone` (the resourceVersion is too old), in the stream or as the status;
 * - re-lists every `relistIntervalMs` as a safety net;
 * - retries errors (API unreachable at start, 5xx) with backoff 1 s → 30 s and jitter, logging each,
 *   for as long as it takes (a watch never gives up);
 * - lists in pages (`limit`/`continue`), and hands on only what `trim` keeps of each object.
 * Its request count depends on time and connection drops (and one list request per `pageSize`
 * objects), never on the number of events.
 */
export class ListWatch<T extends KubeObject> {
  private readonly watch: Watch;
  private readonly timers: Timers;
  private readonly backoff: { initialMs: number; maxMs: number };
  private resourceVersion = "";
  private stopped = true;
  private controller: AbortController | undefined;
  private pendingEnd: WatchEnd | undefined;
  private relistTimer: unknown;
  private sleepTimer: { handle: unknown; resolve: () => void } | undefined;
  private delayMs: number;
  private loop: Promise<void> | undefined;
  private resolveSynced!: () => void;
  private failures = 0;
  /** Resolves after the first successful list. */
  readonly synced: Promise<void>;
  /** The last list or watch connection succeeded. */
  healthy = false;
  lastError: string | undefined;

  constructor(private readonly o: ListWatchOptions<T>) {
    this.watch = new Watch(o.kc);
    this.timers = o.timers ?? realTimers;
    this.backoff = o.backoff ?? { initialMs: 1000, maxMs: 30_000 };
    this.delayMs = this.backoff.initialMs;
    this.synced = new Promise((resolve) => (this.resolveSynced = resolve));
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timers.clearTimeout(this.relistTimer);
    if (this.sleepTimer) {
      this.timers.clearTimeout(this.sleepTimer.handle);
      this.sleepTimer.resolve();
    }
    this.controller?.abort();
    await this.loop;
  }

  /** Forces a re-list now (the periodic safety net does this on a timer). */
  relist(): void {
    this.end({ kind: "relist" });
  }

  private end(e: WatchEnd): void {
    this.pendingEnd ??= e;
    this.controller?.abort();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.timers.setTimeout(() => {
        this.sleepTimer = undefined;
        resolve();
      }, ms);
      this.sleepTimer = { handle, resolve };
    });
  }

  private failed(what: string, err: unknown): number {
    this.healthy = false;
    this.failures++;
    this.lastError = `${what}: ${describe(err)}`;
    // Jitter: many replicas (or both watches) that lost the API together do not come back in step.
    const wait = Math.round(this.delayMs * (0.5 + Math.random() / 2));
    this.delayMs = Math.min(this.delayMs * 2, this.backoff.maxMs);
    const msg = `kubernetes: ${this.o.name} ${what} failed (${describe(err)}); retrying in ${Math.round(wait / 100) / 10}s`;
    if (this.failures === 1) this.o.log?.error({}, msg);
    else this.o.log?.warn({}, msg);
    return wait;
  }

  private succeeded(): void {
    if (this.failures > 0) this.o.log?.info({}, `kubernetes: ${this.o.name} list/watch works again`);
    this.failures = 0;
    this.healthy = true;
    this.lastError = undefined;
    this.delayMs = this.backoff.initialMs;
  }

  private armRelist(): void {
    this.timers.clearTimeout(this.relistTimer);
    if (this.o.relistIntervalMs > 0) this.relistTimer = this.timers.setTimeout(() => this.relist(), this.o.relistIntervalMs);
  }

  private async run(): Promise<void> {
    let quickCloses = 0;
    while (!this.stopped) {
      if (!this.resourceVersion) {
        try {
          const { items, resourceVersion } = await this.listAll();
          if (this.stopped) return;
          this.resourceVersion = resourceVersion;
          this.succeeded();
          this.armRelist();
          this.o.onList(items);
          this.resolveSynced();
        } catch (err) {
          if (this.stopped) return;
          await this.sleep(this.failed("list", err));
          continue;
        }
      }
      const openedAt = Date.now();
      const end = await this.watchOnce();
      if (this.stopped) return;
      switch (end.kind) {
        case "gone":
          this.o.log?.info({}, `kubernetes: ${this.o.name} watch: resourceVersion ${this.resourceVersion} is too old (410 Gone); re-listing`);
          this.resourceVersion = "";
          break;
        case "relist":
          this.resourceVersion = "";
          break;
        case "error":
          await this.sleep(this.failed("watch", end.error));
          break;
        case "timeout":
        case "closed":
          // Resume from the last resourceVersion. A server that closes at once, again and
          // again, must not make us spin: back off after a few quick closes.
          if (Date.now() - openedAt < 1000) {
            if (++quickCloses > 3) await this.sleep(this.failed("watch", new Error("connection closed at once")));
          } else quickCloses = 0;
          break;
      }
    }
  }

  /** Every page of the list, trimmed as each page arrives; the resourceVersion is the first page's (the list's snapshot). */
  private async listAll(): Promise<{ items: T[]; resourceVersion: string }> {
    const limit = this.o.pageSize ?? 500;
    const items: T[] = [];
    let resourceVersion: string | undefined;
    let token: string | undefined;
    do {
      const page = await this.o.list({ limit, ...(token ? { continue: token } : {}) });
      resourceVersion ??= page.resourceVersion;
      for (const item of page.items) items.push(this.o.trim ? this.o.trim(item) : item);
      token = page.continue || undefined;
    } while (token && !this.stopped);
    return { items, resourceVersion: resourceVersion ?? "" };
  }

  private watchOnce(): Promise<WatchEnd> {
    this.pendingEnd = undefined;
    return new Promise<WatchEnd>((resolve) => {
      let finished = false;
      const done = (err: unknown) => {
        if (finished) return;
        finished = true;
        this.controller = undefined;
        if (this.pendingEnd) resolve(this.pendingEnd);
        else if (err && isGone(err)) resolve({ kind: "gone" });
        else if (err && (err as { name?: string }).name === "TimeoutError") resolve({ kind: "timeout" });
        else if (err && (err as { name?: string }).name !== "AbortError") resolve({ kind: "error", error: err });
        else resolve({ kind: "closed" });
      };
      const onEvent = (type: string, obj: T & { code?: number; message?: string }) => {
        if (finished) return;
        if (type === "ERROR") {
          if (obj?.code === 410) this.end({ kind: "gone" });
          else this.end({ kind: "error", error: Object.assign(new Error(obj?.message ?? "watch error"), { statusCode: obj?.code }) });
          return;
        }
        const rv = obj?.metadata?.resourceVersion;
        if (type === "BOOKMARK") {
          if (rv) this.resourceVersion = rv;
          return;
        }
        if (type !== "ADDED" && type !== "MODIFIED" && type !== "DELETED") return;
        if (rv) this.resourceVersion = rv;
        try {
          this.o.onEvent(type, this.o.trim ? this.o.trim(obj) : obj);
        } catch (err) {
          this.o.log?.error({}, `kubernetes: ${this.o.name} event handler failed: ${describe(err)}`);
        }
      };
      this.watch
        .watch(this.o.path, { labelSelector: this.o.labelSelector, resourceVersion: this.resourceVersion, allowWatchBookmarks: true }, onEvent, done)
        .then((controller) => {
          if (finished) return;
          this.controller = controller;
          this.succeeded();
          if (this.pendingEnd || this.stopped) controller.abort();
        })
        .catch(done);
    });
  }
}
