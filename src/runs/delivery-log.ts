import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** How many delivery ids are remembered (GitHub redelivers within days, not thousands of events). */
const KEEP = 10_000;

/**
 * Exactly-once webhook handling: a delivery (GitHub's `X-GitHub-Delivery`, kept by redeliveries)
 * is handled once. `begin` claims it synchronously, so two concurrent identical deliveries cannot
 * both pass; `done` records it durably; `abort` releases it after a failure, so GitHub (or the
 * catch-up) may deliver it again.
 */
export class DeliveryLog {
  private readonly file: string;
  private readonly handled = new Set<string>();
  private readonly inFlight = new Set<string>();

  constructor(dataDir: string) {
    this.file = join(dataDir, "deliveries.log");
    let lines: string[] = [];
    try {
      lines = readFileSync(this.file, "utf8").split("\n").filter(Boolean);
    } catch {
      // first start
    }
    if (lines.length > KEEP) {
      lines = lines.slice(-KEEP);
      writeFileSync(this.file, lines.join("\n") + "\n");
    }
    for (const id of lines) this.handled.add(id);
  }

  /** False when this delivery was handled already or is being handled right now. */
  begin(id: string): boolean {
    if (this.handled.has(id) || this.inFlight.has(id)) return false;
    this.inFlight.add(id);
    return true;
  }

  done(id: string): void {
    this.inFlight.delete(id);
    this.handled.add(id);
    appendFileSync(this.file, `${id}\n`);
  }

  abort(id: string): void {
    this.inFlight.delete(id);
  }
}
