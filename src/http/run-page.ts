import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { AnsiUp } from "ansi_up";
import type { Conclusion } from "../core/status.js";
import { isRunId, type HttpDeps, type RunView } from "./http-deps.js";
import { sendError } from "./respond.js";
import { verifyRunLink } from "./run-link.js";
import { formatDuration } from "../core/format-duration.js";

/**
 * The run page: `GET /runs/<id>?token=…` (HTML) and its live stream `GET /runs/<id>/events?token=…`
 * (server-sent events). Both read the run record and the LogStore only, so a page keeps working
 * after the job's pod or process is gone. The token is a signed, expiring link for that run
 * (run-link.ts); without a valid one both answer 403 and show nothing.
 */

/** The page renders at most this much log (its end); older bytes are summarised in a note. */
export const MAX_PAGE_LOG_BYTES = 4 * 1024 * 1024;
/** At most this much log per server-sent event. */
export const MAX_EVENT_BYTES = 256 * 1024;
/** Colour state is rebuilt from at most this much log before a stream's starting offset. */
export const MAX_REPLAY_BYTES = 4 * 1024 * 1024;
const KEEPALIVE_MS = 15_000;

const STATUS_LABELS: Record<Conclusion, string> = {
  success: "Succeeded",
  failure: "Failed",
  timed_out: "Timed out",
  cancelled: "Cancelled",
  action_required: "Action required",
  neutral: "Neutral",
};

/** What the page shows about a run besides its log; also the JSON of `status` and `end` events. */
export interface RunPageState {
  phase: RunView["phase"];
  /** "Queued", "Running", "Succeeded", "Failed", "Timed out", "Cancelled", ... */
  status: string;
  done: boolean;
  conclusion?: Conclusion;
  exitCode?: number;
  message?: string;
  waitingReason?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** "1m 5s": finished − started (or elapsed so far while running). */
  duration?: string;
}


export function runPageState(run: RunView, now: Date): RunPageState {
  const done = run.phase === "completed";
  const status =
    run.phase === "queued" ? "Queued" : run.phase === "in_progress" ? "Running" : STATUS_LABELS[run.conclusion ?? "failure"];
  let duration: string | undefined;
  if (run.startedAt) {
    const end = run.finishedAt ? Date.parse(run.finishedAt) : done ? NaN : now.getTime();
    const ms = end - Date.parse(run.startedAt);
    if (Number.isFinite(ms)) duration = formatDuration(ms);
  }
  return {
    phase: run.phase,
    status,
    done,
    ...(run.conclusion !== undefined && { conclusion: run.conclusion }),
    ...(run.exitCode !== undefined && { exitCode: run.exitCode }),
    ...(run.message !== undefined && { message: run.message }),
    ...(run.waitingReason !== undefined && run.phase === "queued" && { waitingReason: run.waitingReason }),
    createdAt: run.createdAt,
    ...(run.startedAt !== undefined && { startedAt: run.startedAt }),
    ...(run.finishedAt !== undefined && { finishedAt: run.finishedAt }),
    ...(duration !== undefined && { duration }),
  };
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

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

function newAnsi(): AnsiUp {
  const ansi = new AnsiUp();
  ansi.escape_html = true;
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

function tokenOk(deps: HttpDeps, runId: string, url: URL): boolean {
  const secret = deps.env.linkSecret;
  return !!secret && verifyRunLink(runId, url.searchParams.get("token"), secret, deps.now()).ok;
}

const SECURITY_HEADERS = {
  "cache-control": "no-store, private",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "x-robots-tag": "noindex, nofollow",
};

function sendForbiddenPage(res: ServerResponse): void {
  const body =
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>403 Forbidden</title></head>' +
    "<body><h1>403 Forbidden</h1><p>This link is invalid or has expired. Open the run again from its check run on GitHub.</p></body></html>\n";
  res.writeHead(403, {
    "content-type": "text/html; charset=utf-8",
    "content-length": String(Buffer.byteLength(body)),
    "content-security-policy": "default-src 'none'",
    ...SECURITY_HEADERS,
  });
  res.end(body);
}

/** Shared checks of both routes. Answers the refusal itself and returns undefined when refused. */
async function authorizeRun(
  deps: HttpDeps,
  res: ServerResponse,
  runId: string,
  url: URL,
  kind: "page" | "events",
): Promise<RunView | undefined> {
  if (!deps.env.linkSecret) {
    sendError(res, 404, "not found: the run page is off (YACI_LINK_SECRET is not set)");
    return undefined;
  }
  if (!isRunId(runId) || !tokenOk(deps, runId, url)) {
    if (kind === "page") sendForbiddenPage(res);
    else sendError(res, 403, "forbidden: the link is invalid or has expired", SECURITY_HEADERS);
    return undefined;
  }
  const run = await deps.runs.get(runId);
  if (!run) {
    sendError(res, 404, `no run with id ${JSON.stringify(runId)} (its record may have been deleted)`, SECURITY_HEADERS);
    return undefined;
  }
  return run;
}

function fmtTime(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace("T", " ").replace(/\.\d{3}Z$/, " UTC");
}

function field(name: keyof RunPageState, label: string, value: string, hidden = false): string {
  return `<div class="field" data-row="${name}"${hidden ? " hidden" : ""}><dt>${escapeHtml(label)}</dt><dd data-field="${name}">${escapeHtml(value)}</dd></div>`;
}

/** Serialises JSON for an inline <script type="application/json"> (no "</script>" can appear). */
function inlineJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026");
}

const PAGE_CSS = `
:root { color-scheme: light dark; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0; background: #f6f8fa; color: #1f2328; }
header { padding: 16px 24px; background: #fff; border-bottom: 1px solid #d0d7de; }
h1 { font-size: 20px; margin: 0 0 8px; }
dl { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 6px 24px; margin: 0; }
.field dt { font-size: 12px; color: #59636e; } .field dd { margin: 0; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; overflow-wrap: anywhere; }
.status { display: inline-block; padding: 2px 10px; border-radius: 12px; font-weight: 600; font-size: 13px; background: #eaeef2; }
.status[data-phase="in_progress"] { background: #fff8c5; } .status[data-conclusion="success"] { background: #dafbe1; color: #1a7f37; }
.status[data-conclusion="failure"], .status[data-conclusion="timed_out"] { background: #ffebe9; color: #cf222e; }
main { padding: 16px 24px; }
.note { color: #59636e; font-style: italic; margin: 0 0 8px; }
pre#log { background: #0d1117; color: #e6edf3; padding: 12px 16px; border-radius: 6px; margin: 0; white-space: pre-wrap; overflow-wrap: anywhere;
  font: 12.5px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; min-height: 4em; }
pre#log a { color: #7cc4ff; }
#live { color: #59636e; font-size: 12px; margin-top: 8px; }
`;

// Runs in the browser: follows the event stream, appends log HTML, updates the status fields.
const PAGE_SCRIPT = `
(function () {
  var cfg = JSON.parse(document.getElementById("yaci-config").textContent);
  var log = document.getElementById("log");
  var live = document.getElementById("live");
  function apply(s) {
    var badge = document.getElementById("status");
    badge.textContent = s.status;
    badge.setAttribute("data-phase", s.phase);
    if (s.conclusion) badge.setAttribute("data-conclusion", s.conclusion);
    document.body.setAttribute("data-phase", s.phase);
    ["startedAt", "finishedAt"].forEach(function (k) { if (s[k]) s[k] = s[k].replace("T", " ").replace(/\\.\\d{3}Z$/, " UTC"); });
    ["startedAt", "finishedAt", "duration", "exitCode", "message", "waitingReason"].forEach(function (k) {
      var dd = document.querySelector('[data-field="' + k + '"]');
      var row = document.querySelector('[data-row="' + k + '"]');
      if (!dd || !row) return;
      var v = s[k] === undefined || s[k] === null ? "" : String(s[k]);
      dd.textContent = v;
      row.hidden = v === "";
    });
  }
  if (cfg.done) return;
  live.textContent = "Following the log\\u2026";
  var es = new EventSource(cfg.events);
  es.addEventListener("log", function (e) {
    var atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    if (e.data) log.insertAdjacentHTML("beforeend", e.data);
    if (atBottom) window.scrollTo(0, document.body.scrollHeight);
  });
  es.addEventListener("status", function (e) { apply(JSON.parse(e.data)); });
  es.addEventListener("end", function (e) {
    apply(JSON.parse(e.data));
    es.close();
    live.textContent = "";
    document.body.setAttribute("data-live", "ended");
  });
  es.onerror = function () { if (es.readyState === 2) live.textContent = "Live updates stopped: reload the page."; };
})();
`;

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
  const spec = run.spec;
  const repo = spec.key.owner && spec.key.repo ? `${spec.key.owner}/${spec.key.repo}` : "";
  const title = `${state.status} · ${spec.key.job || runId}${repo ? ` · ${repo}` : ""}`;

  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} · YACI</title>
<style>${PAGE_CSS}</style>
</head>
<body data-phase="${escapeHtml(state.phase)}" data-live="${state.done ? "ended" : "following"}">
<header>
<h1>${escapeHtml(spec.key.job || "run")} <span id="status" class="status" data-phase="${escapeHtml(state.phase)}"${
    state.conclusion ? ` data-conclusion="${escapeHtml(state.conclusion)}"` : ""
  }>${escapeHtml(state.status)}</span></h1>
<dl>
<div class="field"><dt>Run</dt><dd data-field="runId">${escapeHtml(runId)}</dd></div>
${repo ? `<div class="field"><dt>Repository</dt><dd data-field="repository">${escapeHtml(repo)}</dd></div>` : `<div class="field"><dt>Repository</dt><dd data-field="repository">none (API run)</dd></div>`}
${spec.key.sha ? `<div class="field"><dt>Commit</dt><dd data-field="sha">${escapeHtml(spec.key.sha)}</dd></div>` : ""}
${spec.ref ? `<div class="field"><dt>Ref</dt><dd>${escapeHtml(spec.ref)}</dd></div>` : ""}
<div class="field"><dt>Event</dt><dd>${escapeHtml(spec.event)}${spec.attempt > 1 ? ` (attempt ${spec.attempt})` : ""}</dd></div>
<div class="field"><dt>Executor · image</dt><dd>${escapeHtml(run.executor)} · ${escapeHtml(spec.image)}</dd></div>
${field("createdAt", "Queued at", fmtTime(state.createdAt))}
${field("startedAt", "Started", fmtTime(state.startedAt), !state.startedAt)}
${field("finishedAt", "Finished", fmtTime(state.finishedAt), !state.finishedAt)}
${field("duration", "Duration", state.duration ?? "", !state.duration)}
${field("exitCode", "Exit code", state.exitCode === undefined ? "" : String(state.exitCode), state.exitCode === undefined)}
${field("message", "Message", state.message ?? "", !state.message)}
${field("waitingReason", "Waiting", state.waitingReason ?? "", !state.waitingReason)}
</dl>
</header>
<main>
${start > 0 ? `<p class="note">The first ${start} bytes of the log are not shown.</p>` : ""}
<pre id="log">${logHtml}</pre>
<div id="live"></div>
</main>
<script type="application/json" id="yaci-config">${inlineJson({ events, done: state.done })}</script>
<script nonce="${nonce}">${PAGE_SCRIPT}</script>
</body>
</html>
`;
  res.writeHead(200, {
    "content-type": "text/html; charset=utf-8",
    "content-length": String(Buffer.byteLength(html)),
    "content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    ...SECURITY_HEADERS,
  });
  res.end(html);
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
    req.off("close", onClose);
    res.off("close", onClose);
    if (!res.writableEnded) res.end();
  }
}
