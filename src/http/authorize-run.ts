import type { ServerResponse } from "node:http";
import { isRunId, type HttpDeps, type RunView } from "./http-deps.js";
import { sendError } from "./respond.js";
import { verifyRunLink } from "./run-link.js";

/** Headers of every run page and run event stream answer (and of their refusals). */
export const SECURITY_HEADERS = {
  "cache-control": "no-store, private",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "x-robots-tag": "noindex, nofollow",
};

function tokenOk(deps: HttpDeps, runId: string, url: URL): boolean {
  const secret = deps.env.linkSecret;
  return !!secret && verifyRunLink(runId, url.searchParams.get("token"), secret, deps.now()).ok;
}

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

/**
 * Shared checks of the run page (run-page.ts) and its event stream (run-events.ts): the page is on,
 * the token is a valid signed link for this run (run-link.ts), the run exists. Answers the refusal
 * itself and returns undefined when refused.
 */
export async function authorizeRun(
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
