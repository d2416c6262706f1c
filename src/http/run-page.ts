import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { AnsiUp } from "ansi_up";
import type { HttpDeps } from "./env.js";
import { sendHtml } from "./respond.js";
import { authorizeRun, SECURITY_HEADERS } from "./run-access.js";
import { renderRunPage, runPageState } from "./run-page-html.js";

/**
 * The run page: `GET /runs/<id>?token=…` (HTML) and its live stream `GET /runs/<id>/events?token=…`
 * (server-sent events). Both read the run record and the LogStore only, so a page keeps working
 * after the job's pod or process is gone. The token is a signed, expiring link for that run; without
 * a valid one both answer 403 and show nothing (run-access.ts). The HTML, and the state it shows,
 * come from run-page-html.ts.
 */

/** The page renders at most this much log (its end); older bytes are summarised in a note. */
const MAX_PAGE_LOG_BYTES = 4 * 1024 * 1024;

/** Length of the longest prefix of `buf` that ends on a complete UTF-8 character. */
export function completeUtf8Length(buf: Buffer): number {
  const n = buf.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = buf[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: look further back
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

/** Colour state is rebuilt from at most this much log before a stream's starting offset. */
const MAX_REPLAY_BYTES = 4 * 1024 * 1024;

function newAnsi(): AnsiUp {
  const ansi = new AnsiUp();
  ansi.escape_html = true;
  ansi.use_classes = true; // the page's palette (readable on its dark background), not ANSI's raw RGB
  return ansi;
}

/** An AnsiUp whose colour state is that of the log at `offset` (replays up to MAX_REPLAY_BYTES before it). */
async function ansiAt(deps: HttpDeps, runId: string, offset: number): Promise<AnsiUp> {
  const ansi = newAnsi();
  let pos = Math.max(0, offset - MAX_REPLAY_BYTES);
  while (pos < offset) {
    const buf = await deps.logs.readFrom(runId, pos, Math.min(1 << 20, offset - pos));
    if (buf.length === 0) break;
    ansi.ansi_to_html(buf.toString("latin1")); // only the escape state matters; text is discarded
    pos += buf.length;
  }
  return ansi;
}

/** GET /runs/<id>?token=… */
export async function handleRunPage(deps: HttpDeps, res: ServerResponse, runId: string, url: URL): Promise<void> {
  const run = await authorizeRun(deps, res, runId, url, "page");
  if (!run) return;
  const state = runPageState(run, deps.now());

  const size = await deps.logs.size(runId);
  const start = Math.max(0, size - MAX_PAGE_LOG_BYTES);
  let buf = await deps.logs.readFrom(runId, start, size - start);
  // While the job runs, stop at a whole character: the stream continues from there.
  const end = state.done ? buf.length : completeUtf8Length(buf);
  buf = buf.subarray(0, end);
  const offset = start + end;
  const ansi = await ansiAt(deps, runId, start);
  let skip = 0;
  if (start > 0) while (skip < buf.length && (buf[skip]! & 0xc0) === 0x80) skip++;
  const logHtml = ansi.ansi_to_html(buf.subarray(skip).toString("utf8"));

  const token = url.searchParams.get("token") ?? "";
  const events = `${encodeURIComponent(runId)}/events?token=${encodeURIComponent(token)}&offset=${offset}`;
  const nonce = randomBytes(16).toString("base64");
  const html = renderRunPage({ runId, run, state, skippedBytes: start, logHtml, events, nonce });
  sendHtml(res, 200, html, {
    "content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    ...SECURITY_HEADERS,
  });
}

/** At most this much log per server-sent event. */
const MAX_EVENT_BYTES = 256 * 1024;
const KEEPALIVE_MS = 15_000;

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
 */
export async function handleRunEvents(deps: HttpDeps, req: IncomingMessage, res: ServerResponse, runId: string, url: URL): Promise<void> {
  let run = await authorizeRun(deps, res, runId, url, "events");
  if (!run) return;
  const pollMs = deps.pollIntervalMs ?? 500;
  const lastId = req.headers["last-event-id"];
  const requested = Number(typeof lastId === "string" && lastId !== "" ? lastId : (url.searchParams.get("offset") ?? "0"));
  let offset = Number.isSafeInteger(requested) && requested >= 0 ? requested : 0;
  offset = Math.min(offset, await deps.logs.size(runId));
  const ansi = await ansiAt(deps, runId, offset);

  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    connection: "keep-alive",
    "x-accel-buffering": "no",
    ...SECURITY_HEADERS,
  });
  res.write("retry: 2000\n\n");

  // Executors that store a log only at the end stream it while this page watches.
  const watching = new AbortController();
  if (run.phase !== "completed") deps.followLog?.(runId, watching.signal);

  let closed = false;
  let wake: (() => void) | undefined;
  const onClose = () => {
    closed = true;
    wake?.();
  };
  req.on("close", onClose);
  res.on("close", onClose);
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
  const write = (chunk: string) => {
    if (closed) return;
    res.write(chunk);
    lastWrite = Date.now();
  };

  try {
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
        write(`id: ${offset}\nevent: log\n${sseData(html)}\n`);
        if (buf.length < MAX_EVENT_BYTES) {
          drained = usable === buf.length;
          break;
        }
      }

      const state = runPageState(run, deps.now());
      const json = JSON.stringify(state);
      if (done && drained) {
        write(`event: end\n${sseData(json)}\n`);
        deps.log?.info({ runId }, "run page stream ended: run completed");
        break;
      }
      if (json !== lastState) {
        lastState = json;
        write(`event: status\n${sseData(json)}\n`);
      }
      if (Date.now() - lastWrite >= KEEPALIVE_MS) write(": keep-alive\n\n");
      await sleep(pollMs);
    }
  } finally {
    watching.abort();
    req.off("close", onClose);
    res.off("close", onClose);
    if (!res.writableEnded) res.end();
  }
}
