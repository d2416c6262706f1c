import { createHash } from "node:crypto";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** How many deliveries are remembered (GitHub redelivers within days, not thousands of events). */
const KEEP = 10_000;

/**
 * What a delivery says, whatever its delivery id: a hash of the event name and the payload. The
 * signature covers the body but not `X-GitHub-Delivery`, so a signed body sent again under a new
 * delivery id (a replay) has the same hash.
 */
export function deliveryHash(name: string, payload: unknown): string {
  return createHash("sha256").update(name).update("\n").update(JSON.stringify(payload)).digest("base64url");
}

/**
 * Exactly-once webhook handling: a delivery is handled once, recognised by its id (GitHub's
 * `X-GitHub-Delivery`, kept by redeliveries) or by its content (`deliveryHash`, the same for a
 * replay under a new id). `begin` claims it synchronously, so two concurrent identical deliveries
 * cannot both pass; `done` records it durably; `abort` releases it after a failure, so that it may
 * be handled again (the inbox retries it, GitHub or the catch-up may redeliver it).
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
    // A line is `id` (older versions) or `id hash`.
    for (const line of lines) for (const key of line.split(" ")) if (key) this.handled.add(key);
  }

  /** True when this delivery (by id, or by content when `hash` is given) was handled already. */
  seen(id: string, hash?: string): boolean {
    return this.handled.has(id) || (hash !== undefined && this.handled.has(hashKey(hash)));
  }

  /** False when this delivery (by id or content) was handled already or is being handled right now. */
  begin(id: string, hash?: string): boolean {
    const keys = keysOf(id, hash);
    if (keys.some((k) => this.handled.has(k) || this.inFlight.has(k))) return false;
    for (const k of keys) this.inFlight.add(k);
    return true;
  }

  done(id: string, hash?: string): void {
    const keys = keysOf(id, hash);
    for (const k of keys) {
      this.inFlight.delete(k);
      this.handled.add(k);
    }
    appendFileSync(this.file, `${keys.join(" ")}\n`);
  }

  abort(id: string, hash?: string): void {
    for (const k of keysOf(id, hash)) this.inFlight.delete(k);
  }
}

/** Hashes are kept apart from ids (an id can be any string GitHub sends). */
const hashKey = (hash: string) => `#${hash}`;
const keysOf = (id: string, hash?: string) => (hash === undefined ? [id] : [id, hashKey(hash)]);
