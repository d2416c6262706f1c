import type { IncomingMessage, ServerResponse } from "node:http";
import { ansiAt } from "./ansi-at.js";
import { authorizeRun, SECURITY_HEADERS } from "./authorize-run.js";
import { completeUtf8Length } from "./complete-utf8-length.js";
import type { HttpDeps } from "./http-deps.js";
import { runPageState } from "./run-page-state.js";

/** At most this much log per server-sent event. */
export const MAX_EVENT_BYTES = 256 * 1024;
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
