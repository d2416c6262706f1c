import type { PodLogParams } from "./pod-log-params.js";
import { mkdtemp, open, rm, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { Writable, type Readable } from "node:stream";
import { Log } from "@kubernetes/client-node";
import type { LogStore } from "../../logs/log-store.js";

/** GitHub token shapes (installation `ghs_`, user `ghu_`, OAuth `gho_`, PAT `ghp_`, fine-grained PAT). */
const GITHUB_TOKEN_RE = /\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255})\b/g;
const MASK = "***";
/** A partial line longer than this is emitted without waiting for its end. */
const MAX_LINE = 64 * 1024;
/** What is held back of an over-long line: longer than any token. */
const HOLDBACK = 512;

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Replaces secrets in a log stream with `***`: the given strings (the checkout token) and
 * anything shaped like a GitHub token. Works line by line, so a secret split across chunks is
 * still masked, and holds at most one line (64 KiB) in memory.
 */
export class LogMasker {
  private readonly decoder = new StringDecoder("utf8");
  private pending = "";
  private readonly exact: RegExp | undefined;

  constructor(secrets: readonly string[] = []) {
    const s = secrets.filter((x) => x.length >= 4).sort((a, b) => b.length - a.length);
    this.exact = s.length ? new RegExp(s.map(escapeRe).join("|"), "g") : undefined;
  }

  mask(text: string): string {
    const t = this.exact ? text.replace(this.exact, MASK) : text;
    return t.replace(GITHUB_TOKEN_RE, MASK);
  }

  /** Feeds a chunk; returns the masked text that is safe to emit now. */
  push(chunk: Buffer | string): string {
    this.pending += typeof chunk === "string" ? chunk : this.decoder.write(chunk);
    const nl = this.pending.lastIndexOf("\n");
    let cut = nl + 1;
    if (cut === 0 && this.pending.length > MAX_LINE) {
      // An endless line: cut where no token can be split (between a word and a non-word char).
      // Tokens are runs of word characters: look back (at most HOLDBACK) for the end of one.
      const start = this.pending.length - HOLDBACK;
      const word = /[A-Za-z0-9_]/;
      cut = start;
      while (cut > start - HOLDBACK && word.test(this.pending[cut - 1]!) && word.test(this.pending[cut]!)) cut--;
      if (cut === start - HOLDBACK) cut = start; // one long word: no token boundary anyway
    }
    if (cut <= 0) return "";
    const out = this.pending.slice(0, cut);
    this.pending = this.pending.slice(cut);
    return this.mask(out);
  }

  /** The rest, at the end of the stream. */
  end(): string {
    const out = this.pending + this.decoder.end();
    this.pending = "";
    return this.mask(out);
  }
}

/**
 * Keeps the last `maxBytes` of a stream on disk, never in memory: two segment files used in
 * turn, each at most `maxBytes` long, so the tail always lies in the last two.
 */
class TailFile {
  private files: [string, string];
  private current = 0;
  private fh: FileHandle | undefined;
  private sizes: [number, number] = [0, 0];
  total = 0;

  constructor(
    dir: string,
    private readonly maxBytes: number,
  ) {
    this.files = [join(dir, "a"), join(dir, "b")];
  }

  async write(buf: Buffer): Promise<void> {
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
    await this.fh?.close();
    this.fh = undefined;
    const cur = this.current;
    const prev = 1 - cur;
    const curSize = this.sizes[cur]!;
    const prevKeep = this.total > curSize ? Math.min(this.sizes[prev]!, this.maxBytes - curSize) : 0;
    const parts: Array<{ file: string; start: number; length: number }> = [];
    if (prevKeep > 0) parts.push({ file: this.files[prev]!, start: this.sizes[prev]! - prevKeep, length: prevKeep });
    if (curSize > 0) parts.push({ file: this.files[cur]!, start: 0, length: curSize });
    let omitted = this.total - prevKeep - curSize;
    let skipContinuation = omitted > 0;
    await logStore.write(runId, omitted > 0 ? `[yaci: the first ${omitted} bytes of this log were left out: it is longer than YACI_LOG_MAX_BYTES]\n` : "");
    let bytes = 0;
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
          if (skipContinuation) {
            // The cut may fall inside a UTF-8 character: start on the next one.
            let skip = 0;
            while (skip < chunk.length && (chunk[skip]! & 0xc0) === 0x80) skip++;
            omitted += skip;
            chunk = chunk.subarray(skip);
            skipContinuation = skip === bytesRead;
          }
          if (chunk.length) await logStore.append(runId, Buffer.from(chunk));
          bytes += chunk.length;
        }
      } finally {
        await fh.close();
      }
    }
    return { bytes, omittedBytes: omitted };
  }

  async close(): Promise<void> {
    await this.fh?.close().catch(() => {});
    this.fh = undefined;
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
 * LogStore: masked, and bounded on disk to the last `maxBytes` (never whole in memory).
 */
export async function saveFinalLog(p: SaveLogParams): Promise<{ bytes: number; omittedBytes: number }> {
  const dir = await mkdtemp(join(tmpdir(), "yaci-log-"));
  const tail = new TailFile(dir, p.maxBytes);
  const masker = new LogMasker(p.secrets ?? []);
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
    await rm(dir, { recursive: true, force: true });
  }
}
