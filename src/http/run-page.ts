import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import { ansiAt } from "./ansi-at.js";
import { authorizeRun, SECURITY_HEADERS } from "./authorize-run.js";
import { completeUtf8Length } from "./complete-utf8-length.js";
import type { HttpDeps } from "./http-deps.js";
import { renderRunPage } from "./render-run-page.js";
import { runPageState } from "./run-page-state.js";

/**
 * The run page: `GET /runs/<id>?token=…` (HTML) and its live stream `GET /runs/<id>/events?token=…`
 * (server-sent events, run-events.ts). Both read the run record and the LogStore only, so a page
 * keeps working after the job's pod or process is gone. The token is a signed, expiring link for
 * that run (run-link.ts); without a valid one both answer 403 and show nothing (authorize-run.ts).
 * The HTML comes from render-run-page.ts, the state it shows from run-page-state.ts.
 */

// The run page's former exports, from the modules they now live in.
export { MAX_REPLAY_BYTES } from "./ansi-at.js";
export { completeUtf8Length } from "./complete-utf8-length.js";
export { escapeHtml } from "./escape-html.js";
export { handleRunEvents, MAX_EVENT_BYTES } from "./run-events.js";
export { runPageState, type RunPageState } from "./run-page-state.js";

/** The page renders at most this much log (its end); older bytes are summarised in a note. */
export const MAX_PAGE_LOG_BYTES = 4 * 1024 * 1024;

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
  res.writeHead(200, {
    "content-type": "text/html; charset=utf-8",
    "content-length": String(Buffer.byteLength(html)),
    "content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    ...SECURITY_HEADERS,
  });
  res.end(html);
}
