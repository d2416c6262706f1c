import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import { AnsiUp } from "ansi_up";
import type { HttpDeps } from "./env.js";
import { sendHtml } from "./respond.js";
import { authorizeRun, SECURITY_HEADERS } from "./access.js";
import { renderRunPage, runPageState } from "./run-page-html.js";

/**
 * The run page: `GET /runs/<id>?token=…` (HTML), followed live by `GET /runs/<id>/events?token=…`
 * (run-events.ts). Both read the run record and the LogStore only, so a page keeps working after the
 * job's pod or process is gone. The token is a signed, expiring link for that run; without a valid
 * one both answer 403 and show nothing (access.ts). The HTML, and the state it shows, come from
 * run-page-html.ts. The page shows the end of a long log only (a bounded read and render, whatever
 * the log's size), with a link to the full log.
 */

/** The page renders at most this much log (its end); older bytes are summarised in a note with a link. */
export const MAX_PAGE_LOG_BYTES = 256 * 1024;

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

/** Colour state is rebuilt from at most this much log before a page's or stream's starting offset. */
export const MAX_REPLAY_BYTES = 256 * 1024;
/** Log is rendered in slices of this size, yielding to other requests between them. */
const RENDER_SLICE_BYTES = 64 * 1024;

/** Lets other requests run between slices of rendering work. */
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

function newAnsi(): AnsiUp {
  const ansi = new AnsiUp();
  ansi.escape_html = true;
  ansi.use_classes = true; // the page's palette (readable on its dark background), not ANSI's raw RGB
  return ansi;
}

/**
 * An AnsiUp whose colour state is that of the log at `offset`, rebuilt from at most MAX_REPLAY_BYTES
 * before it (a colour set earlier than that is not carried over).
 */
export async function ansiAt(deps: Pick<HttpDeps, "logs">, runId: string, offset: number): Promise<AnsiUp> {
  const ansi = newAnsi();
  let pos = Math.max(0, offset - MAX_REPLAY_BYTES);
  while (pos < offset) {
    const buf = await deps.logs.readFrom(runId, pos, Math.min(RENDER_SLICE_BYTES, offset - pos));
    if (buf.length === 0) break;
    ansi.ansi_to_html(buf.toString("latin1")); // only the escape state matters; text is discarded
    pos += buf.length;
    await yieldToLoop();
  }
  return ansi;
}

/** Renders `buf` (starting on a character) to HTML, a slice at a time, yielding between slices. */
async function renderLog(ansi: AnsiUp, buf: Buffer): Promise<string> {
  const parts: string[] = [];
  let pos = 0;
  while (pos < buf.length) {
    let end = Math.min(buf.length, pos + RENDER_SLICE_BYTES);
    const whole = end < buf.length ? completeUtf8Length(buf.subarray(pos, end)) : 0;
    if (whole > 0) end = pos + whole; // never split a character between slices
    parts.push(ansi.ansi_to_html(buf.subarray(pos, end).toString("utf8")));
    pos = end;
    if (pos < buf.length) await yieldToLoop();
  }
  return parts.join("");
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
  const logHtml = await renderLog(ansi, buf.subarray(skip));

  const token = encodeURIComponent(url.searchParams.get("token") ?? "");
  const events = `${encodeURIComponent(runId)}/events?token=${token}&offset=${offset}`;
  const fullLog = `${encodeURIComponent(runId)}/log?token=${token}`;
  const nonce = randomBytes(16).toString("base64");
  const html = renderRunPage({ runId, run, state, skippedBytes: start + skip, logHtml, events, fullLog, nonce });
  sendHtml(res, 200, html, {
    "content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    ...SECURITY_HEADERS,
  });
}
