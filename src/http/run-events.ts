import type { IncomingMessage, ServerResponse } from "node:http";
import type { HttpDeps, StreamLimits } from "./env.js";
import { STREAM_LIMITS } from "./env.js";
import { sendError } from "./respond.js";
import { authorizeRun, SECURITY_HEADERS } from "./access.js";
import { ansiAt, completeUtf8Length } from "./run-page.js";
import { runPageState } from "./run-page-html.js";

/**
 * The run page's live stream, `GET /runs/<id>/events?token=…` (server-sent events), and what keeps
 * the streams of a public link cheap: each waits for a slow client instead of buffering for it
 * (and drops one that stops reading), their number is capped per run and in total, and each ends
 * after a maximum duration (the browser reconnects where it stopped, and the link is checked again).
 */

/** At most this much log per server-sent event (its HTML is at most a few times larger). */
const MAX_EVENT_BYTES = 64 * 1024;
const KEEPALIVE_MS = 15_000;

/** Open streams (the live stream and full-log downloads), per run and in total, under `limits`. */
export class StreamSlots {
  readonly limits: StreamLimits;
  private readonly perRun = new Map<string, number>();
  private total = 0;

  constructor(limits: Partial<StreamLimits> = {}, private readonly onChange?: (open: number) => void) {
    this.limits = { ...STREAM_LIMITS, ...limits };
  }

  get open(): number {
    return this.total;
  }

  /** Takes a slot for `runId`, or says why there is none. Call the returned function once, when the stream ends. */
  take(runId: string): { release: () => void } | { refused: string } {
    const n = this.perRun.get(runId) ?? 0;
    if (n >= this.limits.perRun) {
      return { refused: `too many open streams of this run (${this.limits.perRun}): close another tab showing it, or retry later` };
    }
    if (this.total >= this.limits.total) {
      return { refused: `too many open log streams on this server (${this.limits.total}): retry later` };
    }
    this.perRun.set(runId, n + 1);
    this.total++;
    this.onChange?.(this.total);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = (this.perRun.get(runId) ?? 1) - 1;
        if (left > 0) this.perRun.set(runId, left);
        else this.perRun.delete(runId);
        this.total--;
        this.onChange?.(this.total);
      },
    };
  }
}

/** Answers 429 for a stream over the caps. */
export function sendStreamsFull(res: ServerResponse, message: string): void {
  sendError(res, 429, message, { "retry-after": "30", ...SECURITY_HEADERS });
}

/**
 * Writes `chunk` to `res`. When the client's socket is full, waits for it to drain (nothing more is
 * read or buffered meanwhile): "ok" once it did, "closed" when the connection closed, "blocked" when
 * the client read nothing for `blockedMs` (the caller then drops the connection).
 */
export async function writeOrWait(res: ServerResponse, chunk: string | Buffer, blockedMs: number): Promise<"ok" | "closed" | "blocked"> {
  if (res.destroyed || res.writableEnded) return "closed";
  if (res.write(chunk)) return "ok";
  return new Promise((resolve) => {
    const done = (verdict: "ok" | "closed" | "blocked") => {
      clearTimeout(timer);
      res.off("drain", onDrain);
      res.off("close", onClose);
      resolve(verdict);
    };
    const onDrain = () => done("ok");
    const onClose = () => done("closed");
    const timer = setTimeout(() => done("blocked"), blockedMs);
    res.on("drain", onDrain);
    res.on("close", onClose);
  });
}

function sseData(data: string): string {
  return data
    .split(/\r\n|\r|\n/)
    .map((line) => `data: ${line}\n`)
    .join("");
}

/**
 * GET /runs/<id>/events?token=…&offset=N (or `Last-Event-ID: N` on reconnection): server-sent
 * events from byte N of the log. `log` events carry HTML (ANSI colours rendered, text escaped) and
 * the byte offset after them as their id; `status` events the state when it changes; the last
 * event is `end` with the final state, sent once the run completed and its whole log was sent.
 * A stream open for `maxDurationMs` simply ends: EventSource reconnects from its last id.
 */
export async function handleRunEvents(
  deps: HttpDeps,
  req: IncomingMessage,
  res: ServerResponse,
  runId: string,
  url: URL,
  slots: StreamSlots,
): Promise<void> {
  let run = await authorizeRun(deps, res, runId, url, "events");
  if (!run) return;
  const slot = slots.take(runId);
  if ("refused" in slot) {
    deps.log?.warn({ runId, open: slots.open }, `run page stream refused: ${slot.refused}`);
    sendStreamsFull(res, slot.refused);
    return;
  }
  const { blockedMs, maxDurationMs } = slots.limits;
  const pollMs = deps.pollIntervalMs ?? 500;
  const startedAt = Date.now();

  let closed = false;
  let wake: (() => void) | undefined;
  const onClose = () => {
    closed = true;
    wake?.();
  };
  req.on("close", onClose);
  res.on("close", onClose);
  const watching = new AbortController();
  try {
    const lastId = req.headers["last-event-id"];
    const requested = Number(typeof lastId === "string" && lastId !== "" ? lastId : (url.searchParams.get("offset") ?? "0"));
    let offset = Number.isSafeInteger(requested) && requested >= 0 ? requested : 0;
    offset = Math.min(offset, await deps.logs.size(runId));
    const ansi = await ansiAt(deps, runId, offset);
    if (closed) return;

    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      connection: "keep-alive",
      "x-accel-buffering": "no",
      ...SECURITY_HEADERS,
    });
    res.write("retry: 2000\n\n");

    // Executors that store a log only at the end stream it while this page watches.
    if (run.phase !== "completed") deps.followLog?.(runId, watching.signal);

    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(done, ms);
        function done() {
          clearTimeout(t);
          wake = undefined;
          resolve();
        }
        wake = done;
      });

    let lastState = "";
    let lastWrite = Date.now();
    const write = async (chunk: string): Promise<void> => {
      if (closed) return;
      const verdict = await writeOrWait(res, chunk, blockedMs);
      if (verdict === "blocked") {
        deps.log?.info({ runId, blockedMs, offset, buffered: res.writableLength }, "run page stream dropped: the client read nothing for too long");
        res.destroy();
      }
      if (verdict !== "ok") closed = true;
      lastWrite = Date.now();
    };

    while (!closed) {
      // Read the record before the log: when it says completed, the whole log is already stored.
      const current = await deps.runs.get(runId);
      if (current) run = current;
      const done = run.phase === "completed";

      let drained = false;
      while (!closed) {
        const buf = await deps.logs.readFrom(runId, offset, MAX_EVENT_BYTES);
        if (buf.length === 0) {
          drained = true;
          break;
        }
        const usable = done && buf.length < MAX_EVENT_BYTES ? buf.length : completeUtf8Length(buf);
        if (usable === 0) {
          drained = true; // only part of a character so far
          break;
        }
        offset += usable;
        const html = ansi.ansi_to_html(buf.subarray(0, usable).toString("utf8"));
        await write(`id: ${offset}\nevent: log\n${sseData(html)}\n`);
        if (buf.length < MAX_EVENT_BYTES) {
          drained = usable === buf.length;
          break;
        }
      }
      if (closed) break;

      const state = runPageState(run, deps.now());
      const json = JSON.stringify(state);
      if (done && drained) {
        await write(`event: end\n${sseData(json)}\n`);
        deps.log?.info({ runId }, "run page stream ended: run completed");
        break;
      }
      if (json !== lastState) {
        lastState = json;
        await write(`event: status\n${sseData(json)}\n`);
      }
      if (Date.now() - startedAt >= maxDurationMs) {
        // The browser reconnects (after `retry`) from the last id, through the link check again.
        await write(": time limit of this stream reached; reconnect to continue\n\n");
        deps.log?.debug?.({ runId, maxDurationMs }, "run page stream ended: time limit");
        break;
      }
      if (Date.now() - lastWrite >= KEEPALIVE_MS) await write(": keep-alive\n\n");
      await sleep(pollMs);
    }
  } finally {
    watching.abort();
    slot.release();
    req.off("close", onClose);
    res.off("close", onClose);
    if (res.headersSent && !res.writableEnded && !res.destroyed) res.end();
  }
}

/** The full log is sent in chunks of this size. */
const LOG_CHUNK_BYTES = 64 * 1024;

/**
 * GET /runs/<id>/log?token=…: the whole stored log as plain text (ANSI escapes included), as it is
 * when the request arrives. Read chunk by chunk, at the pace the client reads.
 */
export async function handleRunLog(deps: HttpDeps, res: ServerResponse, runId: string, url: URL, slots: StreamSlots): Promise<void> {
  const run = await authorizeRun(deps, res, runId, url, "page");
  if (!run) return;
  const slot = slots.take(runId);
  if ("refused" in slot) {
    sendStreamsFull(res, slot.refused);
    return;
  }
  try {
    const size = await deps.logs.size(runId);
    res.writeHead(200, {
      "content-type": "text/plain; charset=utf-8",
      "content-length": String(size),
      "content-security-policy": "default-src 'none'",
      ...SECURITY_HEADERS,
    });
    let offset = 0;
    while (offset < size) {
      const buf = await deps.logs.readFrom(runId, offset, Math.min(LOG_CHUNK_BYTES, size - offset));
      if (buf.length === 0) break; // deleted meanwhile (retention): the length check tells the client
      offset += buf.length;
      const verdict = await writeOrWait(res, buf, slots.limits.blockedMs);
      if (verdict !== "ok") {
        if (verdict === "blocked") deps.log?.info({ runId, offset }, "full log download dropped: the client read nothing for too long");
        res.destroy();
        return;
      }
    }
    if (offset < size) res.destroy();
    else res.end();
  } finally {
    slot.release();
  }
}
