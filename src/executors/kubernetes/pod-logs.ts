import { mkdtemp, open, rm, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable, type Readable } from "node:stream";
import { Log, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../../logger.js";
import { readFileParts, type FilePart, type LogStore } from "../../logs/log-store.js";
import { SecretMasker } from "../../logs/secret-masker.js";
import { apiMessage } from "./api-error.js";

/** Which container's log to read, where to store it, and what to mask: shared by the final read and the live follow. */
export interface PodLogParams {
  kc: KubeConfig;
  namespace: string;
  pod: string;
  container: string;
  runId: string;
  logStore: LogStore;
  /** At most this many bytes (`limitBytes`): a longer log keeps its end. */
  maxBytes: number;
  /** Strings to mask (the checkout token, when this process knows it). */
  secrets?: readonly string[];
}

/** A log up to this size is held in memory while it is read (no temporary files); a longer one goes to disk. */
const IN_MEMORY_BYTES = 64 * 1024;

/**
 * Keeps the last `maxBytes` of a stream: in memory while it is short (≤ 64 KiB), else on disk,
 * never more in memory: two segment files used in turn, each at most `maxBytes` long, so the tail
 * always lies in the last two.
 */
class TailFile {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private dir: string | undefined;
  private files: [string, string] = ["", ""];
  private current = 0;
  private fh: FileHandle | undefined;
  private sizes: [number, number] = [0, 0];
  total = 0;

  constructor(private readonly maxBytes: number) {}

  async write(buf: Buffer): Promise<void> {
    if (this.dir === undefined) {
      if (this.heldBytes + buf.length <= Math.min(IN_MEMORY_BYTES, this.maxBytes)) {
        this.held.push(buf);
        this.heldBytes += buf.length;
        return;
      }
      this.dir = await mkdtemp(join(tmpdir(), "yaci-log-"));
      this.files = [join(this.dir, "a"), join(this.dir, "b")];
      const held = Buffer.concat(this.held);
      this.held = [];
      this.heldBytes = 0;
      await this.toDisk(held);
    }
    await this.toDisk(buf);
  }

  private async toDisk(buf: Buffer): Promise<void> {
    let offset = 0;
    while (offset < buf.length) {
      if (!this.fh) this.fh = await open(this.files[this.current]!, "w");
      const room = this.maxBytes - this.sizes[this.current]!;
      const n = Math.min(room, buf.length - offset);
      await this.fh.write(buf, offset, n);
      this.sizes[this.current]! += n;
      this.total += n;
      offset += n;
      if (this.sizes[this.current] === this.maxBytes) {
        await this.fh.close();
        this.fh = undefined;
        this.current = 1 - this.current;
        this.sizes[this.current] = 0;
      }
    }
  }

  /** Copies the kept tail into the LogStore (64 KiB at a time); returns the bytes left out. */
  async saveTo(logStore: LogStore, runId: string): Promise<{ bytes: number; omittedBytes: number }> {
    if (this.dir === undefined) {
      // All of it is in memory (and within maxBytes): one write.
      await logStore.write(runId, Buffer.concat(this.held));
      return { bytes: this.heldBytes, omittedBytes: 0 };
    }
    await this.fh?.close();
    this.fh = undefined;
    const cur = this.current;
    const prev = 1 - cur;
    const curSize = this.sizes[cur]!;
    const prevKeep = this.total > curSize ? Math.min(this.sizes[prev]!, this.maxBytes - curSize) : 0;
    const parts: FilePart[] = [];
    if (prevKeep > 0) parts.push({ file: this.files[prev]!, start: this.sizes[prev]! - prevKeep, length: prevKeep });
    if (curSize > 0) parts.push({ file: this.files[cur]!, start: 0, length: curSize });
    let omitted = this.total - prevKeep - curSize;
    const skipContinuation = omitted > 0;
    await logStore.write(runId, omitted > 0 ? `[yaci: the first ${omitted} bytes of this log were left out: it is longer than YACI_LOG_MAX_BYTES]\n` : "");
    let bytes = 0;
    // The cut may fall inside a UTF-8 character: start on the next one.
    for await (const { chunk, skipped } of readFileParts(parts, skipContinuation)) {
      omitted += skipped;
      if (chunk.length) await logStore.append(runId, Buffer.from(chunk));
      bytes += chunk.length;
    }
    return { bytes, omittedBytes: omitted };
  }

  async close(): Promise<void> {
    await this.fh?.close().catch(() => {});
    this.fh = undefined;
    this.held = [];
    if (this.dir !== undefined) await rm(this.dir, { recursive: true, force: true });
  }
}

export interface SaveLogParams extends PodLogParams {
  /** Give up when the API sends nothing for this long (default 60 s). */
  idleTimeoutMs?: number;
  /** Appended after the log: what YACI has to say (e.g. why the job failed). */
  trailer?: string;
}

/**
 * Reads a finished container's log from `pods/log` with ONE request and streams it into the
 * LogStore: masked, and bounded to the last `maxBytes` (in memory up to 64 KiB, else on disk: never
 * whole in memory).
 */
export async function saveFinalLog(p: SaveLogParams): Promise<{ bytes: number; omittedBytes: number }> {
  const tail = new TailFile(p.maxBytes);
  const masker = new SecretMasker(p.secrets ?? []);
  try {
    let controller: AbortController | undefined;
    await new Promise<void>((resolve, reject) => {
      let idle: NodeJS.Timeout | undefined;
      const idleMs = p.idleTimeoutMs ?? 60_000;
      const arm = () => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          controller?.abort();
          sink.destroy(new Error(`no data from pods/log for ${Math.round(idleMs / 1000)}s`));
        }, idleMs);
        idle.unref?.();
      };
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          arm();
          const text = masker.push(chunk);
          (text ? tail.write(Buffer.from(text, "utf8")) : Promise.resolve()).then(() => cb(), cb);
        },
        final(cb) {
          const text = masker.end();
          (text ? tail.write(Buffer.from(text, "utf8")) : Promise.resolve()).then(() => cb(), cb);
        },
      });
      // The client pipes the response body into the sink without listening for its errors: an
      // aborted (idle) or dropped connection would otherwise be an uncaught exception.
      sink.on("pipe", (src: Readable) => src.on("error", (err) => sink.destroy(err)));
      sink.on("finish", () => {
        clearTimeout(idle);
        resolve();
      });
      sink.on("error", (err) => {
        clearTimeout(idle);
        reject(err);
      });
      arm();
      new Log(p.kc)
        .log(p.namespace, p.pod, p.container, sink, { follow: false })
        .then((c) => {
          controller = c;
        })
        .catch((err: unknown) => {
          clearTimeout(idle);
          reject(err);
        });
    });
    if (p.trailer) await tail.write(Buffer.from(p.trailer, "utf8"));
    return await tail.saveTo(p.logStore, p.runId);
  } finally {
    await tail.close();
  }
}

export interface FollowStreamParams extends PodLogParams {
  /** Writes wait for this first (the stop of an earlier stream of the same run). */
  after?: Promise<void>;
  log?: Logger;
}

/** One `pods/log?follow=true` stream copying a container's output into the LogStore. */
export interface FollowStream {
  readonly pod: string;
  /** Resolves when the stream has ended (by itself, by an error, or stopped) and its writes are done. */
  readonly done: Promise<void>;
  /** Stops copying at once; resolves when nothing more will be written to the LogStore. */
  stop(): Promise<void>;
}

/**
 * Truncates the run's log in the LogStore and copies the container's output into it from the
 * start, masked, as it comes. Never rejects: an error (pod gone, 4xx, dropped connection) is
 * logged and ends the stream.
 */
export function openFollowStream(p: FollowStreamParams): FollowStream {
  const masker = new SecretMasker(p.secrets ?? []);
  let stopped = false;
  let ended = false;
  let received = 0;
  let controller: AbortController | undefined;
  let source: Readable | undefined;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));

  // Every LogStore write goes through this chain, in order; the truncation comes first.
  let chain: Promise<void> = (p.after ?? Promise.resolve()).then(() => (stopped ? undefined : p.logStore.write(p.runId, "")));
  const enqueue = (text: string): Promise<void> => {
    chain = chain
      .then(() => (stopped || !text ? undefined : p.logStore.append(p.runId, text)))
      .catch((err: unknown) => {
        if (!stopped) p.log?.warn({ runId: p.runId }, `kubernetes: ${p.runId}: the live log could not be stored: ${apiMessage(err)}`);
        halt();
      });
    return chain;
  };
  void enqueue("");

  /** Ends the HTTP side (now, or once the request is answered) and discards whatever still comes. */
  const halt = () => {
    stopped = true;
    controller?.abort();
    source?.destroy();
    sink.destroy();
  };

  const finish = (err?: unknown) => {
    if (ended) return;
    ended = true;
    if (err !== undefined && !stopped) p.log?.warn({ runId: p.runId }, `kubernetes: ${p.runId}: the live log of ${p.pod} ended: ${apiMessage(err)}`);
    if (err !== undefined || stopped) halt();
    void chain.then(resolveDone, resolveDone);
  };

  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (stopped) return cb();
      received += chunk.length;
      enqueue(masker.push(chunk)).then(() => cb(), cb);
    },
    final(cb) {
      const note =
        received >= p.maxBytes ? `\n[yaci: the live log stops after YACI_LOG_MAX_BYTES (${p.maxBytes} bytes); the end of the log is stored when the job ends]\n` : "";
      enqueue(masker.end() + note).then(() => cb(), cb);
    },
  });
  // The client pipes its response body into the sink and listens for no error on it: without
  // this listener an aborted or dropped connection would be an uncaught exception.
  sink.on("pipe", (src: Readable) => {
    source = src;
    src.on("error", (err) => {
      finish(stopped ? undefined : err);
      sink.destroy();
    });
    if (stopped) halt();
  });
  sink.on("finish", () => finish());
  sink.on("error", (err) => finish(err));
  sink.on("close", () => finish());

  new Log(p.kc)
    .log(p.namespace, p.pod, p.container, sink, { follow: true, limitBytes: p.maxBytes })
    .then((c) => {
      controller = c;
      if (stopped) halt();
    })
    .catch((err: unknown) => {
      finish(err);
      sink.destroy();
    });

  return {
    pod: p.pod,
    done,
    stop() {
      halt();
      return chain.then(
        () => undefined,
        () => undefined,
      );
    },
  };
}
