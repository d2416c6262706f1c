import { appendFileSync, mkdtempSync, readdirSync, statSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Inbox, type InboxDelivery } from "../../../src/runs/inbox.js";
import { isTransient } from "../../../src/runs/inbox-worker.js";

const dir = () => mkdtempSync(join(tmpdir(), "yaci-inbox-"));
const delivery = (n: number, lane = "repo:1"): InboxDelivery => ({
  id: `d-${n}`,
  name: "push",
  lane,
  hash: `h-${n}`,
  body: Buffer.from(JSON.stringify({ n, text: "é\n".repeat(n) })),
});
const segments = (d: string) => readdirSync(join(d, "inbox")).sort();
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}
const diskFull = () => Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });

describe("Inbox", () => {
  it("keeps what it stored across a restart, byte for byte, until it is acknowledged", async () => {
    const d = dir();
    const first = new Inbox(d);
    const a = await first.append(delivery(1));
    await first.append(delivery(2, "repo:2"));
    await first.close();

    const second = new Inbox(d);
    expect(second.pending().map((e) => [e.id, e.name, e.lane, e.hash])).toEqual([
      ["d-1", "push", "repo:1", "h-1"],
      ["d-2", "push", "repo:2", "h-2"],
    ]);
    expect((await second.readBody(second.pending()[1]!)).equals(delivery(2).body)).toBe(true);
    expect(second.holds("d-1", "other")).toBe(true);
    expect(second.holds("other", "h-2")).toBe(true);
    second.ack(second.pending().find((e) => e.seq === a.seq)!);
    await second.close();

    const third = new Inbox(d);
    expect(third.pending().map((e) => e.id)).toEqual(["d-2"]);
    // New entries never reuse a sequence number.
    expect((await third.append(delivery(3))).seq).toBeGreaterThan(third.pending()[0]!.seq);
  });

  it("cuts off a record a crash left half-written (it was never answered) and goes on after it", async () => {
    const d = dir();
    const first = new Inbox(d);
    await first.append(delivery(1));
    await first.close();
    const [segment] = segments(d);
    const file = join(d, "inbox", segment!);
    const good = statSync(file).size;
    appendFileSync(file, `{"seq":2,"id":"d-2","name":"push","lane":"repo:1","hash":"h-2","at":1,"len":500}\n{"par`);

    const second = new Inbox(d);
    expect(second.pending().map((e) => e.id)).toEqual(["d-1"]);
    expect(statSync(file).size).toBe(good);
    await second.append(delivery(3));
    await second.close();
    expect(new Inbox(d).pending().map((e) => e.id)).toEqual(["d-1", "d-3"]);
  });

  it("writes deliveries that arrive together with one sync (group commit)", async () => {
    let syncs = 0;
    const inbox = new Inbox(dir(), {
      writeDurably: async (f: FileHandle, data: Buffer[]) => {
        syncs++;
        await f.writev(data);
        await f.datasync();
      },
    });
    await Promise.all(Array.from({ length: 50 }, (_, i) => inbox.append(delivery(i))));
    expect(inbox.depth).toBe(50);
    expect(syncs).toBeLessThanOrEqual(2);
    await inbox.close();
  });

  it("starts new segment files and deletes the old ones once everything in them is handled", async () => {
    const d = dir();
    const inbox = new Inbox(d, { segmentBytes: 200 });
    const entries = [];
    for (let i = 1; i <= 6; i++) entries.push(await inbox.append(delivery(i)));
    const written = segments(d);
    expect(written.length).toBeGreaterThan(2);
    // Handled out of order: the oldest segment still holds d-1, so no segment may go yet.
    for (const e of entries.slice(1)) inbox.ack(e);
    await inbox.close();
    expect(segments(d)).toEqual(expect.arrayContaining(written));
    const again = new Inbox(d, { segmentBytes: 200 });
    expect(again.pending().map((e) => e.id)).toEqual(["d-1"]);
    again.ack(again.pending()[0]!);
    await again.close();
    await until(() => written.every((s) => !segments(d).includes(s)));
    expect(new Inbox(d).pending()).toEqual([]);
    await until(() => segments(d).length === 0);
  });

  it("a full disk rejects the append and stores nothing; the next one, with room again, is stored", async () => {
    const d = dir();
    let full = true;
    const inbox = new Inbox(d, {
      writeDurably: async (f: FileHandle, data: Buffer[]) => {
        if (full) {
          await f.write(data[0]!.subarray(0, 10)); // a partial write before the error
          throw diskFull();
        }
        await f.writev(data);
        await f.datasync();
      },
    });
    await expect(inbox.append(delivery(1))).rejects.toMatchObject({ code: "ENOSPC" });
    expect(inbox.depth).toBe(0);
    expect(inbox.holds("d-1", "h-1")).toBe(false);
    full = false;
    await inbox.append(delivery(2));
    await inbox.close();
    expect(new Inbox(d).pending().map((e) => e.id)).toEqual(["d-2"]);
  });
});

describe("isTransient: what the inbox tries again", () => {
  const http = (status: number, headers: Record<string, string> = {}) => Object.assign(new Error(`HTTP ${status}`), { status, response: { headers } });
  it.each([
    ["502 Bad Gateway", true, http(502)],
    ["503", true, http(503)],
    ["429", true, http(429)],
    ["403 secondary rate limit (retry-after)", true, http(403, { "retry-after": "60" })],
    ["403 primary rate limit (none left)", true, http(403, { "x-ratelimit-remaining": "0" })],
    ["connection reset", true, Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })],
    ["fetch failed, caused by a refused connection", true, Object.assign(new TypeError("fetch failed"), { cause: Object.assign(new Error("x"), { code: "ECONNREFUSED" }) })],
    ["a full disk", true, Object.assign(new Error("no space"), { code: "ENOSPC" })],
    ["one transient among Probot's handler errors", true, new AggregateError([new TypeError("x"), http(504)])],
    ["404", false, http(404)],
    ["403 no permission", false, http(403)],
    ["422", false, http(422)],
    ["a bug (TypeError)", false, new TypeError("cannot read properties of undefined")],
    ["a payload that is not JSON", false, new SyntaxError("Unexpected token")],
    ["only permanent errors in an AggregateError", false, new AggregateError([http(404), new TypeError("x")])],
  ])("%s → %s", (_name, expected, err) => {
    expect(isTransient(err)).toBe(expected);
  });
});
