import { mkdirSync } from "node:fs";
import { appendFile, open, readdir, rename, rm, stat, writeFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
/** The default of YACI_LOG_MAX_BYTES: a job's log keeps at most its last 10 MiB. */
export const DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024;

/** The bounded end of a log: `text` is the last bytes, `omittedBytes` what came before it. */
export interface LogTail {
  text: string;
  omittedBytes: number;
  totalBytes: number;
}

/**
 * Durable job logs, one file per run under `<dataDir>/logs/<runId>.log`. Executors write here;
 * check runs, the run page and `GET /get` read from here, so a log outlives its pod or process.
 */
export class LogStore {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, "logs");
    mkdirSync(this.dir, { recursive: true });
  }

  path(runId: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(runId)) throw new Error(`invalid run id: ${runId}`);
    return join(this.dir, `${runId}.log`);
  }

  async append(runId: string, chunk: string | Buffer): Promise<void> {
    await appendFile(this.path(runId), chunk);
  }

  async write(runId: string, text: string | Buffer): Promise<void> {
    await writeFile(this.path(runId), text);
  }

  async size(runId: string): Promise<number> {
    try {
      return (await stat(this.path(runId))).size;
    } catch {
      return 0;
    }
  }

  /** Reads bytes from `offset` to the end (at most `maxBytes`): for following a live log. */
  async readFrom(runId: string, offset: number, maxBytes = 1 << 20): Promise<Buffer> {
    let fh;
    try {
      fh = await open(this.path(runId), "r");
    } catch {
      return Buffer.alloc(0);
    }
    try {
      const { size } = await fh.stat();
      const length = Math.max(0, Math.min(maxBytes, size - offset));
      const buf = Buffer.alloc(length);
      if (length > 0) await fh.read(buf, 0, length, offset);
      return buf;
    } finally {
      await fh.close();
    }
  }

  /** The last `maxBytes` bytes, cut at a UTF-8 character boundary; never reads the whole file. */
  async tail(runId: string, maxBytes: number): Promise<LogTail> {
    const totalBytes = await this.size(runId);
    const start = Math.max(0, totalBytes - maxBytes);
    let buf = await this.readFrom(runId, start, maxBytes);
    let skip = 0;
    // Drop UTF-8 continuation bytes (10xxxxxx) at the cut so the text starts on a character.
    if (start > 0) while (skip < buf.length && (buf[skip]! & 0xc0) === 0x80) skip++;
    buf = buf.subarray(skip);
    return { text: buf.toString("utf8"), omittedBytes: start + skip, totalBytes };
  }

  /** A live log, appended to what the file holds, that keeps at most `maxBytes` (see `CappedLog`). */
  async openCapped(runId: string, maxBytes: number): Promise<CappedLog> {
    const file = this.path(runId);
    const fh = await open(file, "a");
    return new CappedLog(file, fh, maxBytes, (await fh.stat()).size);
  }

  async remove(runId: string): Promise<void> {
    await rm(this.path(runId), { force: true });
  }

  /** Deletes logs last written before `before` (log retention). Returns the run ids removed. */
  async prune(before: Date): Promise<string[]> {
    const removed: string[] = [];
    for (const name of await readdir(this.dir)) {
      if (/\.log\.(tail-[ab]|new)$/.test(name)) {
        // Left by a process that stopped while a job ran: the log itself is what counts.
        const { mtime } = await stat(join(this.dir, name));
        if (mtime < before) await rm(join(this.dir, name), { force: true });
        continue;
      }
      if (!name.endsWith(".log")) continue;
      const file = join(this.dir, name);
      const { mtime } = await stat(file);
      if (mtime < before) {
        await rm(file, { force: true });
        removed.push(name.slice(0, -4));
      }
    }
    return removed;
  }
}

/**
 * A job's output as it comes, written to its log file and bounded to `maxBytes` on disk. While
 * the job runs, the file shows the first `maxBytes` (and a note once it is full); what follows
 * goes to two segment files used in turn, so the end of the log is always at hand. `close()`
 * then replaces the file, atomically, with the log's LAST `maxBytes`, after a line saying how
 * many bytes were left out (as the Kubernetes executor keeps them: YACI_LOG_MAX_BYTES).
 *
 * A write that fails (a full disk) never throws nor emits `error`: the output is dropped from then
 * on and the error is kept in `error`, for the run to end saying why.
 */
export class CappedLog extends Writable {
  /** The first write error (ENOSPC…), if any. */
  error: Error | undefined;
  private readonly segments: [string, string];
  private segFh: FileHandle | undefined;
  private current = 0;
  private readonly sizes: [number, number] = [0, 0];
  private tailTotal = 0;

  constructor(
    private readonly file: string,
    private fh: FileHandle | undefined,
    private readonly maxBytes: number,
    /** Bytes the file holds already. */
    private head = 0,
  ) {
    super();
    this.segments = [`${file}.tail-a`, `${file}.tail-b`];
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.take(chunk).then(
      () => cb(),
      (err: Error) => {
        this.error ??= err;
        cb(); // the output is dropped, the job is not held up
      },
    );
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.finishFile().then(
      () => cb(),
      (err: Error) => {
        this.error ??= err;
        cb();
      },
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    Promise.all([this.fh?.close(), this.segFh?.close()])
      .catch(() => undefined)
      .then(() => cb(err));
  }

  /** Bytes left out of the stored log once closed. */
  get omittedBytes(): number {
    return Math.max(0, this.head + this.tailTotal - this.maxBytes);
  }

  private async take(buf: Buffer): Promise<void> {
    if (this.error) return;
    let offset = 0;
    if (this.head < this.maxBytes) {
      const n = Math.min(buf.length, this.maxBytes - this.head);
      await this.fh!.write(buf, 0, n);
      this.head += n;
      offset = n;
      if (offset < buf.length || this.head === this.maxBytes) {
        if (offset === buf.length) return;
        await this.fh!.write(`\n[yaci: this log is longer than YACI_LOG_MAX_BYTES (${this.maxBytes} bytes): its end is kept when the job ends]\n`);
      }
    }
    while (offset < buf.length) {
      this.segFh ??= await open(this.segments[this.current]!, "w");
      const n = Math.min(this.maxBytes - this.sizes[this.current]!, buf.length - offset);
      await this.segFh.write(buf, offset, n);
      this.sizes[this.current]! += n;
      this.tailTotal += n;
      offset += n;
      if (this.sizes[this.current] === this.maxBytes) {
        await this.segFh.close();
        this.segFh = undefined;
        this.current = 1 - this.current;
        this.sizes[this.current] = 0;
      }
    }
  }

  /** The kept end, as (file, start, length) parts in order: the log's last `maxBytes`. */
  private keptParts(): FilePart[] {
    const cur = this.current;
    const prev = 1 - cur;
    const curSize = this.sizes[cur]!;
    const prevKeep = this.tailTotal > curSize ? Math.min(this.sizes[prev]!, this.maxBytes - curSize) : 0;
    const fromHead = this.maxBytes - curSize - prevKeep; // the tail is shorter than maxBytes: the head's end too
    const parts: Array<{ file: string; start: number; length: number }> = [];
    if (fromHead > 0) parts.push({ file: this.file, start: this.head - fromHead, length: fromHead });
    if (prevKeep > 0) parts.push({ file: this.segments[prev]!, start: this.sizes[prev]! - prevKeep, length: prevKeep });
    if (curSize > 0) parts.push({ file: this.segments[cur]!, start: 0, length: curSize });
    return parts;
  }

  private async finishFile(): Promise<void> {
    try {
      await this.fh?.close();
      this.fh = undefined;
      await this.segFh?.close();
      this.segFh = undefined;
      if (this.tailTotal === 0 || this.error) return;
      const next = `${this.file}.new`;
      const out = await open(next, "w");
      try {
        let omitted = this.omittedBytes;
        let wroteNote = false;
        // The cut may fall inside a UTF-8 character: start on the next one.
        for await (const { chunk, skipped } of readFileParts(this.keptParts(), true)) {
          omitted += skipped;
          if (chunk.length === 0) continue;
          if (!wroteNote) {
            await out.write(`[yaci: the first ${omitted} bytes of this log were left out: it is longer than YACI_LOG_MAX_BYTES]\n`);
            wroteNote = true;
          }
          await out.write(chunk);
        }
        await out.sync();
      } finally {
        await out.close();
      }
      await rename(next, this.file);
    } catch (err) {
      await rm(`${this.file}.new`, { force: true }).catch(() => {});
      throw err;
    } finally {
      for (const f of this.segments) await rm(f, { force: true }).catch(() => {});
    }
  }
}

/** A part of a file: `length` bytes from `start`. */
export interface FilePart {
  file: string;
  start: number;
  length: number;
}

/**
 * Reads file parts in order, 64 KiB at a time (the two-segment tails of `CappedLog` and of the
 * Kubernetes final log). With `skipLeadingContinuation`, the UTF-8 continuation bytes a cut left at
 * the very start are skipped, and counted in `skipped`. Each chunk is a view of a reused buffer:
 * use it before asking for the next.
 */
export async function* readFileParts(parts: readonly FilePart[], skipLeadingContinuation: boolean): AsyncGenerator<{ chunk: Buffer; skipped: number }> {
  let skipping = skipLeadingContinuation;
  const buf = Buffer.alloc(64 * 1024);
  for (const part of parts) {
    const fh = await open(part.file, "r");
    try {
      let pos = part.start;
      const end = part.start + part.length;
      while (pos < end) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos);
        if (bytesRead === 0) break;
        pos += bytesRead;
        let chunk = buf.subarray(0, bytesRead);
        let skipped = 0;
        if (skipping) {
          while (skipped < chunk.length && (chunk[skipped]! & 0xc0) === 0x80) skipped++;
          chunk = chunk.subarray(skipped);
          skipping = chunk.length === 0;
        }
        yield { chunk, skipped };
      }
    } finally {
      await fh.close();
    }
  }
}
