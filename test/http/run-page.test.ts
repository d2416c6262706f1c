import { afterEach, describe, expect, it } from "vitest";
import { signRunLink } from "../../src/http/access.js";
import { completeUtf8Length } from "../../src/http/run-page.js";
import { runPageState } from "../../src/http/run-page-html.js";
import { LINK_SECRET, startHarness, type Harness } from "./harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * Reads server-sent events until the stream ends or `stop` says so (then cancels it). `ended` is
 * true only when the server ended the stream: a stream the safety timer had to cancel is not ended.
 */
async function readEvents(res: Response, stop: (e: SseEvent, all: SseEvent[]) => boolean = () => false, timeoutMs = 10_000) {
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: SseEvent[] = [];
  let buffer = "";
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void reader.cancel();
  }, timeoutMs);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { events, ended: !timedOut };
      buffer += value;
      let i: number;
      while ((i = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        const e: SseEvent = { event: "message", data: "" };
        const data: string[] = [];
        let any = false;
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const [field, ...rest] = line.split(":");
          const v = rest.join(":").replace(/^ /, "");
          if (field === "event") e.event = v;
          else if (field === "data") data.push(v);
          else if (field === "id") e.id = v;
          else continue;
          any = true;
        }
        if (!any || (data.length === 0 && e.event === "message")) continue;
        e.data = data.join("\n");
        events.push(e);
        if (stop(e, events)) {
          await reader.cancel();
          return { events, ended: false };
        }
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

function token(runId: string, h: Harness, ttlMs = 3_600_000, secret = LINK_SECRET): string {
  return signRunLink(runId, secret, new Date(h.clock.now.getTime() + ttlMs));
}

const logHtml = (events: SseEvent[]) =>
  events
    .filter((e) => e.event === "log")
    .map((e) => e.data)
    .join("");

describe("run page event stream", () => {
  it("sends the whole log (colours as HTML, text escaped) and ends with the final state", async () => {
    h = await startHarness();
    const id = "yaci-build-1";
    h.runner.create(id, { phase: "completed", conclusion: "failure", exitCode: 1, startedAt: "2025-01-01T00:00:00Z", finishedAt: "2025-01-01T00:01:05Z" });
    await h.logs.write(id, "plain <b>&amp;</b>\n\x1b[31mred\x1b[0m done\n");
    const res = await fetch(`${h.url}/runs/${id}/events?token=${token(id, h)}&offset=0`);
    const { events, ended } = await readEvents(res);
    expect(ended).toBe(true);
    expect(logHtml(events)).toBe('plain &lt;b&gt;&amp;amp;&lt;/b&gt;\n<span class="ansi-red-fg">red</span> done\n');
    const last = events.at(-1)!;
    expect(last.event).toBe("end");
    expect(JSON.parse(last.data)).toMatchObject({ phase: "completed", status: "Failed", done: true, exitCode: 1, duration: "1m 5s" });
    const lastLog = events.filter((e) => e.event === "log").at(-1)!;
    expect(Number(lastLog.id)).toBe(await h.logs.size(id));
  });

  it("resumes from Last-Event-ID with the colour state of that offset", async () => {
    h = await startHarness();
    const id = "yaci-build-2";
    h.runner.create(id, { phase: "completed", conclusion: "success", exitCode: 0 });
    const first = "\x1b[32mgreen starts\n";
    await h.logs.write(id, `${first}still green\x1b[0m\nplain\n`);
    const res = await fetch(`${h.url}/runs/${id}/events?token=${token(id, h)}&offset=0`, {
      headers: { "last-event-id": String(Buffer.byteLength(first)) },
    });
    const { events } = await readEvents(res);
    expect(logHtml(events)).toBe('<span class="ansi-green-fg">still green</span>\nplain\n');
  });

  it("follows a running job, never splits a UTF-8 character, and ends when it completes", async () => {
    h = await startHarness();
    const id = "yaci-build-3";
    h.runner.create(id, { phase: "in_progress", startedAt: h.clock.now.toISOString() });
    const e = Buffer.from("é"); // 2 bytes
    await h.logs.write(id, Buffer.concat([Buffer.from("caf"), e.subarray(0, 1)]));
    const res = await fetch(`${h.url}/runs/${id}/events?token=${token(id, h)}&offset=0`);
    let step = 0;
    const { events, ended } = await readEvents(res, (ev, all) => {
      if (ev.event === "log" && step === 0) {
        step = 1;
        void h!.logs.append(id, Buffer.concat([e.subarray(1), Buffer.from(" au lait\n")]));
      } else if (ev.event === "log" && step === 1 && logHtml(all).endsWith("au lait\n")) {
        // The appended text has reached the page: now the job completes.
        step = 2;
        h!.runner.update(id, { phase: "completed", conclusion: "success", exitCode: 0 });
      }
      return all.length > 200;
    });
    expect(ended).toBe(true);
    expect(logHtml(events)).toBe("café au lait\n");
    expect(events.filter((x) => x.event === "log").map((x) => x.data)[0]).toBe("caf");
    expect(events.some((x) => x.event === "status" && JSON.parse(x.data).status === "Running")).toBe(true);
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ status: "Succeeded", done: true });
  });

  it("refuses a forged, foreign, expired or missing token with 403 JSON and no log", async () => {
    h = await startHarness();
    const id = "yaci-secret-1";
    h.runner.create(id, { phase: "completed", conclusion: "success" });
    await h.logs.write(id, "the private log\n");
    const bad = [
      "",
      `?token=${token(id, h, 3_600_000, "another-secret-0123456789")}`,
      `?token=${token("yaci-other-run", h)}`,
      `?token=${token(id, h, -1000)}`,
      "?token=garbage",
    ];
    for (const q of bad) {
      for (const path of [`/runs/${id}/events`, `/runs/${id}`]) {
        const res = await fetch(`${h.url}${path}${q}`);
        expect(res.status, `${path}${q}`).toBe(403);
        expect(await res.text()).not.toContain("private log");
      }
    }
  });

  it("a valid link stops working once it expires", async () => {
    h = await startHarness();
    const id = "yaci-secret-2";
    h.runner.create(id, { phase: "completed", conclusion: "success" });
    await h.logs.write(id, "visible for one hour\n");
    const url = `${h.url}/runs/${id}?token=${token(id, h, 3_600_000)}`;
    expect((await fetch(url)).status).toBe(200);
    h.clock.now = new Date(h.clock.now.getTime() + 3_600_001);
    const res = await fetch(url);
    expect(res.status).toBe(403);
    expect(await res.text()).not.toContain("visible for one hour");
  });

  it("is off without YACI_LINK_SECRET (404), and 404 for an unknown run with a valid token", async () => {
    h = await startHarness({ env: { linkSecret: undefined } });
    const res = await fetch(`${h.url}/runs/yaci-x?token=${token("yaci-x", h)}`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ message: "not found: the run page is off (YACI_LINK_SECRET is not set)" });
    await h.close();
    h = await startHarness();
    const unknown = await fetch(`${h.url}/runs/yaci-nope/events?token=${token("yaci-nope", h)}`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { message: string }).message).toMatch(/no run with id/);
  });
});

describe("run page helpers", () => {
  it("completeUtf8Length stops before a partial character", () => {
    const euro = Buffer.from("€"); // 3 bytes
    const emoji = Buffer.from("😀"); // 4 bytes
    expect(completeUtf8Length(Buffer.from("abc"))).toBe(3);
    expect(completeUtf8Length(Buffer.concat([Buffer.from("a"), euro]))).toBe(4);
    expect(completeUtf8Length(Buffer.concat([Buffer.from("a"), euro.subarray(0, 2)]))).toBe(1);
    expect(completeUtf8Length(Buffer.concat([Buffer.from("a"), euro.subarray(0, 1)]))).toBe(1);
    expect(completeUtf8Length(Buffer.concat([Buffer.from("ab"), emoji.subarray(0, 3)]))).toBe(2);
    expect(completeUtf8Length(Buffer.concat([Buffer.from("ab"), emoji]))).toBe(6);
    expect(completeUtf8Length(Buffer.alloc(0))).toBe(0);
  });

  it("runPageState", () => {
    const base = {
      spec: {} as never,
      executor: "local",
      createdAt: "2025-01-01T00:00:00Z",
    };
    expect(runPageState({ ...base, phase: "queued", waitingReason: "no free slot" }, new Date())).toMatchObject({
      status: "Queued",
      done: false,
      waitingReason: "no free slot",
    });
    expect(
      runPageState({ ...base, phase: "in_progress", startedAt: "2025-01-01T00:00:10Z" }, new Date("2025-01-01T00:00:40Z")),
    ).toMatchObject({ status: "Running", duration: "30s", done: false });
    expect(runPageState({ ...base, phase: "completed", conclusion: "timed_out" }, new Date())).toMatchObject({
      status: "Timed out",
      done: true,
    });
  });
});
