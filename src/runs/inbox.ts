import { closeSync, ftruncateSync, mkdirSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { open, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { systemClock, type Clock } from "../clock.js";
import { silentLogger, type Logger } from "../logger.js";

/** A verified webhook delivery, as the intake hands it over. */
export interface InboxDelivery {
  /** `X-GitHub-Delivery` */
  id: string;
  /** `X-GitHub-Event` */
  name: string;
  /** Deliveries of one lane (one repository) are handled in the order they arrived. */
  lane: string;
  /** `deliveryHash(name, payload)`: what the delivery says, whatever its id. */
  hash: string;
  /** The exact body GitHub signed. */
  body: Buffer;
}

/** A stored delivery: where its body is on disk, not the body itself (the inbox holds no payloads in memory). */
export interface InboxEntry extends Omit<InboxDelivery, "body"> {
  seq: number;
  /** When the inbox stored it (ms since the epoch). */
  receivedAt: number;
  segment: number;
  offset: number;
  length: number;
}

export interface InboxOptions {
  clock?: Clock;
  log?: Logger;
  /** A new segment file starts once the current one holds this many bytes (default 8 MiB). */
  segmentBytes?: number;
  /** Writes one batch at the end of the file and syncs it (the disk; a test makes it full). */
  writeDurably?: (file: FileHandle, data: Buffer[]) => Promise<void>;
}

interface Waiting {
  data: Buffer[];
  entry?: InboxEntry;
  resolve(): void;
  reject(err: unknown): void;
}

const SEGMENT_BYTES = 8 << 20;
const NAME = /^(\d{8})\.log$/;

async function writeAndSync(file: FileHandle, data: Buffer[]): Promise<void> {
  let rest = data;
  while (rest.length > 0) {
    const { bytesWritten } = await file.writev(rest);
    rest = dropBytes(rest, bytesWritten);
  }
  await file.datasync();
}

function dropBytes(buffers: Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  for (const b of buffers) {
    if (n >= b.length) n -= b.length;
    else {
      out.push(n > 0 ? b.subarray(n) : b);
      n = 0;
    }
  }
  return out;
}

/**
 * The durable inbox of webhook deliveries: append-only segment files under `<dataDir>/inbox/`.
 * A record is a JSON header line (`{"seq",…,"len"}`) followed by the body and a newline; an
 * acknowledgement is a line `{"ack":seq}`. `append` resolves only once the record is on disk
 * (fdatasync); concurrent appends share one write and one sync (group commit). Opening replays
 * every segment: what was stored and not acknowledged is pending again; a torn record at a
 * segment's end (a crash mid-write, never answered) is cut off. A segment is deleted once it and
 * every older one hold nothing pending.
 */
export class Inbox {
  private readonly dir: string;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly segmentBytes: number;
  private readonly writeDurably: (file: FileHandle, data: Buffer[]) => Promise<void>;
  private readonly live = new Map<number, InboxEntry>();
  private readonly liveIds = new Set<string>();
  private readonly liveHashes = new Map<string, number>();
  /** Pending entries per segment; segments older than `current`, oldest first, are deleted at 0. */
  private readonly perSegment = new Map<number, number>();
  private readonly listeners: Array<(e: InboxEntry) => void> = [];
  private queue: Waiting[] = [];
  private flushing: Promise<void> | undefined;
  private file: FileHandle | undefined;
  private current: number;
  private size = 0;
  private nextSeq = 1;

  constructor(dataDir: string, opts: InboxOptions = {}) {
    this.dir = join(dataDir, "inbox");
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger;
    this.segmentBytes = opts.segmentBytes ?? SEGMENT_BYTES;
    this.writeDurably = opts.writeDurably ?? writeAndSync;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const segments = readdirSync(this.dir).flatMap((n) => (NAME.test(n) ? [Number(NAME.exec(n)![1])] : [])).sort((a, b) => a - b);
    for (const s of segments) this.replay(s);
    // New records go to a new segment; old ones go once nothing in them is pending.
    this.current = (segments.at(-1) ?? 0) + 1;
    this.deleteDrainedSegments();
  }

  /** Stored and not yet acknowledged, oldest first. */
  pending(): InboxEntry[] {
    return [...this.live.values()].sort((a, b) => a.seq - b.seq);
  }

  get depth(): number {
    return this.live.size;
  }

  /** When the oldest pending delivery was stored (ms since the epoch), or undefined when empty. */
  oldestReceivedAt(): number | undefined {
    let oldest: number | undefined;
    for (const e of this.live.values()) if (oldest === undefined || e.receivedAt < oldest) oldest = e.receivedAt;
    return oldest;
  }

  /** Is this delivery (by id, or by content) stored, or being stored, and not yet handled? */
  holds(id: string, hash: string): boolean {
    return this.liveIds.has(id) || this.liveHashes.has(hash);
  }

  /** Called with every newly stored entry, once it is on disk. */
  subscribe(listener: (e: InboxEntry) => void): void {
    this.listeners.push(listener);
  }

  /** Stores a delivery; resolves once it is on disk. Rejects (nothing stored) when the disk refuses it. */
  async append(d: InboxDelivery): Promise<InboxEntry> {
    const { body, ...meta } = d;
    const entry: InboxEntry = { ...meta, seq: this.nextSeq++, receivedAt: this.clock.now(), segment: 0, offset: 0, length: body.length };
    const header = Buffer.from(`${JSON.stringify({ seq: entry.seq, id: d.id, name: d.name, lane: d.lane, hash: d.hash, at: entry.receivedAt, len: body.length })}\n`);
    // Held from now on, so that a copy arriving while this one is written is recognised.
    this.hold(entry);
    try {
      await this.enqueue([header, body, Buffer.from("\n")], entry);
    } catch (err) {
      this.forget(entry);
      throw err;
    }
    for (const l of this.listeners) l(entry);
    return entry;
  }

  /** The body of a pending entry, read back from disk. */
  async readBody(e: InboxEntry): Promise<Buffer> {
    const file = await open(this.segmentPath(e.segment), "r");
    try {
      const buf = Buffer.alloc(e.length);
      let read = 0;
      while (read < e.length) {
        const { bytesRead } = await file.read(buf, read, e.length - read, e.offset + read);
        if (bytesRead === 0) throw new Error(`inbox segment ${e.segment} ends inside delivery ${e.id}`);
        read += bytesRead;
      }
      return buf;
    } finally {
      await file.close();
    }
  }

  /** The delivery is handled (or dropped): it leaves the inbox. The record of that is written in the background. */
  ack(e: InboxEntry): void {
    if (!this.live.delete(e.seq)) return;
    this.forget(e);
    this.enqueue([Buffer.from(`{"ack":${e.seq}}\n`)]).catch((err: unknown) =>
      // Lost, it only means a replay after a restart, which the delivery log recognises.
      this.log.warn({ delivery: e.id, err: (err as Error).message }, "could not record a handled delivery in the inbox"),
    );
    this.deleteDrainedSegments();
  }

  /** Waits for writes in flight and closes the file. */
  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    await this.file?.close();
    this.file = undefined;
  }

  private segmentPath(n: number): string {
    return join(this.dir, `${String(n).padStart(8, "0")}.log`);
  }

  private enqueue(data: Buffer[], entry?: InboxEntry): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ data, entry, resolve, reject });
      this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
    });
  }

  /** Writes everything queued, in batches: one write and one sync per batch. */
  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      let start: number | undefined;
      const bodyAt: number[] = [];
      try {
        if (!this.file || this.size >= this.segmentBytes) await this.rotate();
        start = this.size;
        let offset = start;
        for (const w of batch) {
          bodyAt.push(offset + w.data[0]!.length);
          offset += w.data.reduce((n, b) => n + b.length, 0);
        }
        await this.writeDurably(this.file!, batch.flatMap((w) => w.data));
        this.size = offset;
      } catch (err) {
        // Nothing of this batch counts: cut off what may have been written (a full disk, say).
        if (start !== undefined) await this.file?.truncate(start).catch(() => {});
        for (const w of batch) w.reject(err);
        continue;
      }
      batch.forEach((w, i) => {
        if (w.entry) {
          Object.assign(w.entry, { segment: this.current, offset: bodyAt[i]! });
          this.remember(w.entry);
        }
        w.resolve();
      });
    }
  }

  private async rotate(): Promise<void> {
    if (this.file) {
      await this.file.close();
      this.file = undefined;
      this.current++;
    }
    this.file = await open(this.segmentPath(this.current), "a", 0o600);
    this.size = (await this.file.stat()).size;
    if (!this.perSegment.has(this.current)) this.perSegment.set(this.current, 0);
  }

  /** A stored entry: pending, and counted in its segment. */
  private remember(e: InboxEntry): void {
    this.live.set(e.seq, e);
    this.perSegment.set(e.segment, (this.perSegment.get(e.segment) ?? 0) + 1);
  }

  /** Its id and content are known (from the start of `append`, or from the replay). */
  private hold(e: InboxEntry): void {
    this.liveIds.add(e.id);
    this.liveHashes.set(e.hash, (this.liveHashes.get(e.hash) ?? 0) + 1);
  }

  /** Undoes `hold`, and `remember` when the entry was stored. */
  private forget(e: InboxEntry): void {
    this.liveIds.delete(e.id);
    const n = (this.liveHashes.get(e.hash) ?? 1) - 1;
    if (n > 0) this.liveHashes.set(e.hash, n);
    else this.liveHashes.delete(e.hash);
    if (e.segment > 0) this.perSegment.set(e.segment, (this.perSegment.get(e.segment) ?? 1) - 1);
  }

  /** Deletes old segments, oldest first, while nothing in them is pending (their acks may cover older ones). */
  private deleteDrainedSegments(): void {
    for (const s of [...this.perSegment.keys()].sort((a, b) => a - b)) {
      if (s >= this.current || this.perSegment.get(s)! > 0) break;
      this.perSegment.delete(s);
      unlink(this.segmentPath(s)).catch(() => {});
    }
  }

  /** Reads one segment at start: stored entries become pending, acknowledged ones leave. */
  private replay(segment: number): void {
    const path = this.segmentPath(segment);
    const fd = openSync(path, "r+");
    try {
      const size = statSync(path).size;
      this.perSegment.set(segment, 0);
      let pos = 0;
      while (pos < size) {
        const record = readRecord(fd, pos, size);
        if (!record) {
          this.log.warn({ segment, at: pos, cut: size - pos }, "inbox: cut off a record that was never completely written");
          ftruncateSync(fd, pos);
          break;
        }
        const h = record.header;
        this.nextSeq = Math.max(this.nextSeq, Number(h.seq ?? h.ack) + 1);
        if (typeof h.ack === "number") {
          const e = this.live.get(h.ack);
          if (e) {
            this.live.delete(h.ack);
            this.forget(e);
          }
        } else {
          const e: InboxEntry = { seq: Number(h.seq), id: String(h.id), name: String(h.name), lane: String(h.lane), hash: String(h.hash), receivedAt: Number(h.at), segment, offset: record.bodyAt, length: Number(h.len) };
          this.hold(e);
          this.remember(e);
        }
        pos = record.end;
      }
    } finally {
      closeSync(fd);
    }
  }
}

interface RecordAt {
  header: Record<string, unknown>;
  bodyAt: number;
  end: number;
}

/** The record starting at `pos`, or undefined when it is incomplete (torn) or unreadable. */
function readRecord(fd: number, pos: number, size: number): RecordAt | undefined {
  const chunk = Buffer.alloc(Math.min(4096, size - pos));
  readSync(fd, chunk, 0, chunk.length, pos);
  const nl = chunk.indexOf(0x0a);
  if (nl < 0) return undefined;
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(chunk.subarray(0, nl).toString("utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const bodyAt = pos + nl + 1;
  if (typeof header.ack === "number") return { header, bodyAt, end: bodyAt };
  if (typeof header.seq !== "number" || typeof header.len !== "number") return undefined;
  const end = bodyAt + header.len + 1;
  if (end > size) return undefined;
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, end - 1);
  return last[0] === 0x0a ? { header, bodyAt, end } : undefined;
}
