import type { CheckRunUpdate } from "../../src/core/check-update.js";
import type { CheckRunTarget, CheckRunWriter, CommitStatus } from "../../src/runs/reporter.js";

/** Records check-run writes in memory (the port's fake). */
export class MemoryChecks implements CheckRunWriter {
  readonly writes: { op: "create" | "update"; id: number; u: CheckRunUpdate }[] = [];
  readonly statuses: CommitStatus[] = [];
  private next = 1;

  async create(_t: CheckRunTarget, u: CheckRunUpdate): Promise<number> {
    const id = this.next++;
    this.writes.push({ op: "create", id, u });
    return id;
  }
  async update(_t: CheckRunTarget, id: number, u: CheckRunUpdate): Promise<void> {
    this.writes.push({ op: "update", id, u });
  }
  async find(_t: CheckRunTarget, _sha: string, _name: string, externalId: string): Promise<number | undefined> {
    return this.writes.find((w) => w.u.externalId === externalId)?.id;
  }
  async setStatus(_t: CheckRunTarget, _sha: string, s: CommitStatus): Promise<void> {
    this.statuses.push(s);
  }
}
