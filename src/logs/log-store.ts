import { mkdirSync } from "node:fs";
import { appendFile, open, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

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

  async remove(runId: string): Promise<void> {
    await rm(this.path(runId), { force: true });
  }

  /** Deletes logs last written before `before` (log retention). Returns the run ids removed. */
  async prune(before: Date): Promise<string[]> {
    const removed: string[] = [];
    for (const name of await readdir(this.dir)) {
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
