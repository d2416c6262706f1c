import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { signRunLink } from "../../src/http/access.js";
import { MAX_PAGE_LOG_BYTES, MAX_REPLAY_BYTES } from "../../src/http/run-page.js";
import { eventually, LINK_SECRET, startHarness, type Harness } from "./harness.js";
import { parsePrometheusText, sampleValue } from "./prom-text.js";

/**
 * The run page's streams are public for as long as a link lives, so each is bounded: a client that
 * does not read is waited for (nothing more is read or buffered) and then dropped; streams are
 * capped per run and in total; each ends after a maximum duration; the page and a stream's colour
 * replay read a bounded end of the log whatever its size; the full log is a separate download.
 */

const MiB = 1024 * 1024;

let h: Harness | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await h?.close();
  h = undefined;
});

function token(h: Harness, runId: string): string {
  return signRunLink(runId, LINK_SECRET, new Date(h.clock.now.getTime() + 3_600_000));
}

/** Counts the bytes the server reads from the LogStore from now on. */
function countReads(h: Harness): { bytes: number } {
  const counter = { bytes: 0 };
  const readFrom = h.logs.readFrom.bind(h.logs);
  h.logs.readFrom = async (runId: string, offset: number, max?: number) => {
    const buf = await readFrom(runId, offset, max);
    counter.bytes += buf.length;
    return buf;
  };
  return counter;
}

/** A log of `mib` MiB of numbered lines (with a colour switched on at the very start). */
async function writeBigLog(h: Harness, runId: string, mib: number): Promise<number> {
  const line = (i: number) => `line ${String(i).padStart(8, "0")} ${"x".repeat(80)}\n`;
  const perMiB = Math.ceil(MiB / line(0).length);
  await h.logs.write(runId, "\x1b[35m");
  let i = 0;
  for (let m = 0; m < mib; m++) {
    const lines: string[] = [];
    for (let k = 0; k < perMiB; k++) lines.push(line(i++));
    await h.logs.append(runId, lines.join(""));
  }
  return h.logs.size(runId);
}

/** Opens a stream whose client reads nothing (its socket is never read after the request is sent). */
function nonReadingClient(h: Harness, path: string): Promise<Socket> {
  const { port } = new URL(h.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1", () => {
      socket.pause();
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
      resolve(socket);
    });
    socket.on("error", () => undefined);
    socket.once("error", reject);
    sockets.push(socket);
  });
}

async function openStream(h: Harness, runId: string, signal?: AbortSignal): Promise<Response> {
  return fetch(`${h.url}/runs/${runId}/events?token=${token(h, runId)}&offset=0`, { signal });
}

async function openStreams(h: Harness): Promise<number> {
  const res = await fetch(`${h.url}/metrics`);
  return sampleValue(parsePrometheusText(await res.text()), "yaci_http_open_streams")!;
}

describe("backpressure: a client that does not read", () => {
  it("is waited for with a bounded buffer (nothing more is read from the log), then dropped", async () => {
    h = await startHarness({ deps: { streamLimits: { blockedMs: 1000 } } });
    const id = "yaci-big-1";
    h.runner.create(id, { phase: "completed", conclusion: "success", exitCode: 0 });
    const size = await writeBigLog(h, id, 24);
    const reads = countReads(h);

    await nonReadingClient(h, `/runs/${id}/events?token=${token(h, id)}&offset=0`);
    const dropped = await h.waitForLog((l) => l.message === "run page stream dropped: the client read nothing for too long");
    // What the server held for this client when it gave up: about one event, not the log.
    expect(dropped.fields.buffered).toBeGreaterThan(0);
    expect(dropped.fields.buffered).toBeLessThan(1 * MiB);
    // The kernel's socket buffers took a few MiB; the rest of the 24 MiB was never read.
    expect(dropped.fields.offset).toBeLessThan(size / 2);
    expect(reads.bytes).toBeLessThan(size / 2);
    expect(h.responses.at(-1)!.destroyed).toBe(true);
    await eventually(async () => ((await openStreams(h!)) === 0 ? true : undefined), 5000, "the stream's slot to be freed");
  });

  it("a client that reads gets the whole log, in order, through the same waits", async () => {
    h = await startHarness();
    const id = "yaci-big-2";
    h.runner.create(id, { phase: "completed", conclusion: "success", exitCode: 0 });
    const size = await writeBigLog(h, id, 4);
    const res = await openStream(h, id);
    const reader = res.body!.getReader();
    let lastId = 0;
    let text = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
      for (const m of text.matchAll(/^id: (\d+)$/gm)) lastId = Number(m[1]);
      text = text.slice(-200);
    }
    expect(lastId).toBe(size);
    expect(text).toContain("event: end");
  });
});

describe("stream caps", () => {
  it("answers 429 with a clear message past the per-run and the total cap, and frees slots when streams close", async () => {
    h = await startHarness({ deps: { streamLimits: { perRun: 2, total: 3 } } });
    for (const id of ["yaci-a", "yaci-b", "yaci-c"]) {
      h.runner.create(id, { phase: "in_progress", startedAt: h.clock.now.toISOString() });
      await h.logs.write(id, `${id} is running\n`);
    }
    const first = new AbortController();
    const open: Response[] = [await openStream(h, "yaci-a", first.signal), await openStream(h, "yaci-a")];
    expect(open.map((r) => r.status)).toEqual([200, 200]);

    const perRun = await openStream(h, "yaci-a");
    expect(perRun.status).toBe(429);
    expect(perRun.headers.get("retry-after")).toBe("30");
    expect(await perRun.json()).toEqual({
      message: "too many open streams of this run (2): close another tab showing it, or retry later",
    });

    open.push(await openStream(h, "yaci-b"));
    expect(open[2]!.status).toBe(200);
    const total = await openStream(h, "yaci-c");
    expect(total.status).toBe(429);
    expect(await total.json()).toEqual({ message: "too many open log streams on this server (3): retry later" });
    const download = await fetch(`${h.url}/runs/yaci-c/log?token=${token(h, "yaci-c")}`);
    expect(download.status).toBe(429);
    await download.arrayBuffer();
    expect(await openStreams(h)).toBe(3);

    first.abort();
    await eventually(async () => ((await openStreams(h!)) === 2 ? true : undefined), 5000, "the closed stream's slot to be freed");
    const again = await openStream(h, "yaci-c");
    expect(again.status).toBe(200);
    for (const r of [...open.slice(1), again]) await r.body!.cancel();
  });
});

interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/** Reads a whole stream (until the server ends it) into events. */
async function readAll(res: Response): Promise<SseEvent[]> {
  expect(res.status).toBe(200);
  const text = await res.text();
  const events: SseEvent[] = [];
  for (const block of text.split("\n\n")) {
    const e: SseEvent = { event: "message", data: "" };
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":") || line === "") continue;
      const [field, ...rest] = line.split(":");
      const v = rest.join(":").replace(/^ /, "");
      if (field === "event") e.event = v;
      else if (field === "data") data.push(v);
      else if (field === "id") e.id = v;
    }
    e.data = data.join("\n");
    if (e.event !== "message") events.push(e);
  }
  return events;
}

describe("maximum duration", () => {
  it("ends a stream after its time limit; reconnecting from the last id continues without gaps", async () => {
    h = await startHarness({ deps: { streamLimits: { maxDurationMs: 300 } } });
    const id = "yaci-long-1";
    h.runner.create(id, { phase: "in_progress", startedAt: h.clock.now.toISOString() });
    await h.logs.write(id, "first\n");
    const one = await readAll(await openStream(h, id));
    expect(one.map((e) => e.event)).toEqual(["log", "status"]); // ended by the server: no "end" event
    expect(one[0]!.data).toBe("first\n");
    await h.waitForLog((l) => l.message === "run page stream ended: time limit");

    await h.logs.append(id, "second\n");
    h.runner.update(id, { phase: "completed", conclusion: "success", exitCode: 0 });
    const two = await readAll(
      await fetch(`${h.url}/runs/${id}/events?token=${token(h, id)}&offset=0`, { headers: { "last-event-id": one[0]!.id! } }),
    );
    expect(two.filter((e) => e.event === "log").map((e) => e.data)).toEqual(["second\n"]);
    expect(two.at(-1)!.event).toBe("end");
  });
});

describe("bounded reads of a big log", () => {
  it("the page shows the last 256 KiB with a note and a link to the full log, reading a bounded amount", async () => {
    h = await startHarness();
    const id = "yaci-big-3";
    h.runner.create(id, { phase: "completed", conclusion: "success", exitCode: 0 });
    const size = await writeBigLog(h, id, 8);
    const reads = countReads(h);
    const res = await fetch(`${h.url}/runs/${id}?token=${token(h, id)}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    // The page and its colour replay read at most their two bounds, not the 8 MiB.
    expect(reads.bytes).toBeLessThanOrEqual(MAX_PAGE_LOG_BYTES + MAX_REPLAY_BYTES);
    const skipped = size - MAX_PAGE_LOG_BYTES;
    const note = new RegExp(`${skipped} bytes earlier in the log are not shown — full log: <a href="([^"]+)" rel="noreferrer">${id}\\.log</a>`);
    expect(html).toMatch(note);
    expect(html).not.toContain("line 00000000 ");
    const last = (await h.logs.tail(id, 200)).text.trim().split("\n").at(-1)!;
    expect(html).toContain(last);

    // The link (relative to the page) serves the whole log, byte for byte.
    const href = note.exec(html)![1]!.replace(/&amp;/g, "&");
    const full = await fetch(new URL(href, `${h.url}/runs/${id}`));
    expect(full.status).toBe(200);
    expect(full.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(full.headers.get("x-robots-tag")).toMatch(/noindex/);
    const body = Buffer.from(await full.arrayBuffer());
    expect(body.equals(await h.logs.readFrom(id, 0, size))).toBe(true);
  });

  it("a stream starting deep in a big log replays at most 256 KiB to rebuild colours", async () => {
    h = await startHarness();
    const id = "yaci-big-4";
    h.runner.create(id, { phase: "completed", conclusion: "success", exitCode: 0 });
    const size = await writeBigLog(h, id, 8);
    await h.logs.append(id, "tail line\n");
    const reads = countReads(h);
    const events = await readAll(
      await fetch(`${h.url}/runs/${id}/events?token=${token(h, id)}&offset=${size}`),
    );
    expect(events.filter((e) => e.event === "log").map((e) => e.data)).toEqual(["tail line\n"]);
    expect(reads.bytes).toBeLessThanOrEqual(MAX_REPLAY_BYTES + 64 * 1024);
  });

  it("the full-log link needs the run's token", async () => {
    h = await startHarness();
    h.runner.create("yaci-priv", { phase: "completed", conclusion: "success" });
    await h.logs.write("yaci-priv", "private\n");
    for (const q of ["", `?token=${token(h, "yaci-other")}`, "?token=v1.1.x"]) {
      const res = await fetch(`${h.url}/runs/yaci-priv/log${q}`);
      expect(res.status).toBe(403);
      expect(await res.text()).not.toContain("private");
    }
  });
});
