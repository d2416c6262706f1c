import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * How YACI's HTTP routes answer (JSON, errors, HTML pages) and read a request body, on plain
 * Node `http` objects.
 */

/** Sends `body` as pretty-printed JSON (the original API's style). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body, null, 2) + "\n";
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    ...headers,
  });
  res.end(text);
}

/** Every error of the HTTP surface: JSON `{"message": "..."}`. */
export function sendError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { message }, headers);
}

/** Sends a whole HTML page; `headers` add to (or override) its type and length. */
export function sendHtml(res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "content-length": String(Buffer.byteLength(html)),
    ...headers,
  });
  res.end(html);
}

/** Escapes text for HTML content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

export type BodyResult = { ok: true; body: Buffer } | { ok: false; reason: "too-large" | "aborted" };

/**
 * Reads a request body of at most `limit` bytes. Past the limit it stops keeping data and resolves
 * `too-large` at once (a declared Content-Length over the limit is refused before reading anything).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) return Promise.resolve({ ok: false, reason: "too-large" });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (r: BodyResult) => {
      if (done) return;
      done = true;
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("aborted", onAborted);
      resolve(r);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        req.pause();
        finish({ ok: false, reason: "too-large" });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish({ ok: true, body: Buffer.concat(chunks, size) });
    const onError = () => finish({ ok: false, reason: "aborted" });
    const onAborted = () => finish({ ok: false, reason: "aborted" });
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("aborted", onAborted);
  });
}

/**
 * Answers 413 without reading the rest of the body, then closes the connection: the client may
 * still be sending, so the socket is not reused (at most a short grace to let the answer arrive).
 */
export function sendTooLarge(req: IncomingMessage, res: ServerResponse, limit: number): void {
  sendError(res, 413, `request body is larger than ${limit} bytes`, { connection: "close" });
  res.on("finish", () => {
    // Discard (do not keep) what is still in flight for a moment, so the client reads the 413
    // rather than a connection reset, then drop the connection.
    req.resume();
    const t = setTimeout(() => req.socket.destroy(), 1000);
    t.unref();
    req.socket.once("close", () => clearTimeout(t));
  });
}
