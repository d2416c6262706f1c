import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RunKey, RunRecord } from "../core/run.js";

function keyString(k: RunKey): string {
  return `${k.owner}/${k.repo}@${k.sha}#${k.job}`.toLowerCase();
}

/**
 * Run records, one JSON file per run under `<dataDir>/runs/`, kept in memory too. Writes are
 * synchronous and atomic (write + rename): once `put` returns, a restart will see the record.
 */
export class RunStore {
  private readonly dir: string;
  private readonly byId = new Map<string, RunRecord>();
  private readonly byKey = new Map<string, string[]>();

  constructor(dataDir: string) {
    this.dir = join(dataDir, "runs");
    mkdirSync(this.dir, { recursive: true });
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith(".json")) continue;
      try {
        this.index(JSON.parse(readFileSync(join(this.dir, name), "utf8")) as RunRecord);
      } catch {
        // A torn file cannot happen (rename is atomic); anything else unreadable is skipped.
      }
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
    writeFileSync(`${file}.tmp`, JSON.stringify(r));
    renameSync(`${file}.tmp`, file);
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
