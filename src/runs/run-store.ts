import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { RunKey, RunRecord } from "../core/run.js";
import type { Logger } from "../logger.js";

function keyString(k: RunKey): string {
  return `${k.owner}/${k.repo}@${k.sha}#${k.job}`.toLowerCase();
}

/** Why a parsed file is not a run record, or undefined when it is one (the fields the store and reporter rely on). */
function notARecord(r: unknown, name: string): string | undefined {
  const x = r as Partial<RunRecord> | null;
  if (typeof x !== "object" || x === null) return "not a JSON object";
  if (typeof x.spec?.id !== "string" || `${x.spec.id}.json` !== name) return "its spec.id does not match the file name";
  const k = x.spec.key as Partial<RunKey> | undefined;
  if (typeof k?.owner !== "string" || typeof k.repo !== "string" || typeof k.sha !== "string" || typeof k.job !== "string") return "no spec.key";
  if (typeof x.spec.attempt !== "number" || typeof x.phase !== "string") return "no spec.attempt or phase";
  return undefined;
}

/** Writes `text` to `file` and flushes it to the disk before returning. */
function writeDurably(file: string, text: string): void {
  const fd = openSync(file, "w", 0o600);
  try {
    const buf = Buffer.from(text, "utf8");
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Flushes a directory's entries (a rename or an unlink in it) to the disk. */
function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Run records, one JSON file per run under `<dataDir>/runs/`, kept in memory too. Writes are
 * synchronous, atomic and durable (write to a temporary file, fsync it, rename, fsync the
 * directory): once `put` returns, a restart will see the record, even after a power cut. A `put`
 * that fails (a full disk) throws and leaves the previous version of the record in place.
 *
 * At start, a file that cannot be read as a record (truncated, corrupt, from elsewhere) is named
 * in the log and moved aside to `runs/corrupt/`; leftover temporary files are removed; every
 * readable record is kept.
 */
export class RunStore {
  private readonly dir: string;
  private readonly byId = new Map<string, RunRecord>();
  private readonly byKey = new Map<string, string[]>();

  constructor(dataDir: string, log?: Logger) {
    this.dir = join(dataDir, "runs");
    mkdirSync(this.dir, { recursive: true });
    for (const name of readdirSync(this.dir)) {
      const file = join(this.dir, name);
      if (name.endsWith(".json.tmp")) {
        // A write interrupted before its rename: the record it replaced (if any) is intact.
        rmSync(file, { force: true });
        continue;
      }
      if (!name.endsWith(".json")) continue;
      let why: string | undefined;
      try {
        const r = JSON.parse(readFileSync(file, "utf8")) as RunRecord;
        why = notARecord(r, name);
        if (!why) this.index(r);
      } catch (err) {
        why = (err as Error).message;
      }
      if (why) this.moveAside(name, why, log);
    }
  }

  private moveAside(name: string, why: string, log?: Logger): void {
    const corrupt = join(this.dir, "corrupt");
    const to = join(corrupt, name);
    try {
      mkdirSync(corrupt, { recursive: true });
      renameSync(join(this.dir, name), to);
      log?.error({ file: join(this.dir, name), movedTo: to, reason: why }, `run record ${name} could not be read (${why}): moved to ${to}`);
    } catch (err) {
      log?.error({ file: join(this.dir, name), reason: why, err }, `run record ${name} could not be read (${why}) nor moved aside; it is ignored`);
    }
  }

  private index(r: RunRecord): void {
    if (!this.byId.has(r.spec.id)) {
      const k = keyString(r.spec.key);
      this.byKey.set(k, [...(this.byKey.get(k) ?? []), r.spec.id]);
    }
    this.byId.set(r.spec.id, r);
  }

  get(id: string): RunRecord | undefined {
    return this.byId.get(id);
  }

  put(r: RunRecord): void {
    const file = join(this.dir, `${r.spec.id}.json`);
    const tmp = `${file}.tmp`;
    try {
      writeDurably(tmp, JSON.stringify(r));
      renameSync(tmp, file);
    } catch (err) {
      try {
        rmSync(tmp, { force: true });
      } catch {
        // the write's own error is the one to tell
      }
      throw err;
    }
    syncDir(this.dir);
    this.index(r);
  }

  /** Forgets a run (one that turned out to belong to another replica). */
  remove(id: string): void {
    const r = this.byId.get(id);
    if (!r) return;
    rmSync(join(this.dir, `${id}.json`), { force: true });
    this.byId.delete(id);
    const k = keyString(r.spec.key);
    const ids = (this.byKey.get(k) ?? []).filter((x) => x !== id);
    if (ids.length > 0) this.byKey.set(k, ids);
    else this.byKey.delete(k);
  }

  /** Every attempt of one job of one commit, oldest first. */
  attempts(key: RunKey): RunRecord[] {
    return (this.byKey.get(keyString(key)) ?? [])
      .map((id) => this.byId.get(id)!)
      .sort((a, b) => a.spec.attempt - b.spec.attempt);
  }

  list(filter?: (r: RunRecord) => boolean): RunRecord[] {
    const all = [...this.byId.values()];
    return filter ? all.filter(filter) : all;
  }
}
