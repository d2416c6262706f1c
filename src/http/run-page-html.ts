import { formatDuration } from "../core/format-duration.js";
import type { Conclusion } from "../core/status.js";
import type { RunView } from "./env.js";
import { escapeHtml } from "./respond.js";

/**
 * The run page's HTML, the script it runs in the browser, and the run state both show (the same
 * JSON is sent as the event stream's `status` and `end` events). The handler (run-page.ts) reads
 * the log and the record.
 */

const STATUS_LABELS: Record<Conclusion, string> = {
  success: "Succeeded",
  failure: "Failed",
  timed_out: "Timed out",
  cancelled: "Cancelled",
  action_required: "Action required",
  neutral: "Neutral",
  skipped: "Skipped",
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

/** What the run page's HTML is made of. */
export interface RunPageView {
  runId: string;
  run: RunView;
  state: RunPageState;
  /** Bytes at the start of the log that are not shown (the page shows its end only). */
  skippedBytes: number;
  /** The shown log, already rendered to HTML (ANSI colours, text escaped). */
  logHtml: string;
  /** The URL of the event stream, relative to the page, continuing where the shown log ends. */
  events: string;
  /** The URL of the whole log as plain text, relative to the page. */
  fullLog: string;
  /** The CSP nonce of the inline script. */
  nonce: string;
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
/* ANSI colours (ansi_up classes): GitHub's terminal palette, readable on the dark log. */
.ansi-black-fg { color: #484f58; } .ansi-bright-black-fg { color: #6e7681; } .ansi-black-bg { background: #484f58; } .ansi-bright-black-bg { background: #6e7681; }
.ansi-red-fg { color: #ff7b72; } .ansi-bright-red-fg { color: #ffa198; } .ansi-red-bg { background: #ff7b72; } .ansi-bright-red-bg { background: #ffa198; }
.ansi-green-fg { color: #3fb950; } .ansi-bright-green-fg { color: #56d364; } .ansi-green-bg { background: #3fb950; } .ansi-bright-green-bg { background: #56d364; }
.ansi-yellow-fg { color: #d29922; } .ansi-bright-yellow-fg { color: #e3b341; } .ansi-yellow-bg { background: #d29922; } .ansi-bright-yellow-bg { background: #e3b341; }
.ansi-blue-fg { color: #58a6ff; } .ansi-bright-blue-fg { color: #79c0ff; } .ansi-blue-bg { background: #58a6ff; } .ansi-bright-blue-bg { background: #79c0ff; }
.ansi-magenta-fg { color: #bc8cff; } .ansi-bright-magenta-fg { color: #d2a8ff; } .ansi-magenta-bg { background: #bc8cff; } .ansi-bright-magenta-bg { background: #d2a8ff; }
.ansi-cyan-fg { color: #39c5cf; } .ansi-bright-cyan-fg { color: #56d4dd; } .ansi-cyan-bg { background: #39c5cf; } .ansi-bright-cyan-bg { background: #56d4dd; }
.ansi-white-fg { color: #b1bac4; } .ansi-bright-white-fg { color: #ffffff; } .ansi-white-bg { background: #b1bac4; } .ansi-bright-white-bg { background: #ffffff; }
#live { color: #59636e; font-size: 12px; margin-top: 8px; }
`;

/** Runs in the browser on the run page: follows the event stream, appends log HTML, updates the status fields. */
const RUN_PAGE_SCRIPT = `
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
  // A stream that ends (its time limit) reconnects by itself; a refused one (e.g. 429: too many
  // viewers) closes, and the page says so.
  es.onerror = function () { if (es.readyState === 2) live.textContent = "Live updates stopped (the server refused or closed the stream): reload the page."; };
})();
`;

/** The run page: a header with the run's state, its log, and a script that follows the event stream. */
export function renderRunPage({ runId, run, state, skippedBytes, logHtml, events, fullLog, nonce }: RunPageView): string {
  const spec = run.spec;
  const repo = spec.key.owner && spec.key.repo ? `${spec.key.owner}/${spec.key.repo}` : "";
  const title = `${state.status} · ${spec.key.job || runId}${repo ? ` · ${repo}` : ""}`;
  return `<!doctype html>
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
${
  skippedBytes > 0
    ? `<p class="note" id="skipped">${skippedBytes} bytes earlier in the log are not shown — full log: <a href="${escapeHtml(fullLog)}" rel="noreferrer">${escapeHtml(runId)}.log</a></p>`
    : ""
}
<pre id="log">${logHtml}</pre>
<div id="live"></div>
</main>
<script type="application/json" id="yaci-config">${inlineJson({ events, done: state.done })}</script>
<script nonce="${nonce}">${RUN_PAGE_SCRIPT}</script>
</body>
</html>
`;
}
