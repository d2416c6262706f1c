import { createHmac, timingSafeEqual } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { HttpDeps, RunView } from "./env.js";
import { sendError, sendHtml } from "./respond.js";

/**
 * Who may read a run through the HTTP surface. Run pages are reached through signed, expiring
 * links: a token is `v1.<expires, unix seconds>.<signature>` where the signature is HMAC-SHA256
 * (key: YACI_LINK_SECRET) over the version, the run id and the expiry: it is valid for that one
 * run until it expires, and cannot be moved to another run. `authorizeRun` applies it to a request.
 */

const TOKEN_VERSION = "v1";

/** Run ids are Kubernetes-style names; anything else is not a run (and never reaches the LogStore). */
export function isRunId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id);
}

export type RunLinkVerdict = { ok: true; expiresAt: Date } | { ok: false; reason: "malformed" | "expired" | "bad-signature" };

function signature(runId: string, expiresSec: number, secret: string): Buffer {
  return createHmac("sha256", secret).update(`yaci-run-link\n${TOKEN_VERSION}\n${runId}\n${expiresSec}`).digest();
}

/** A token granting read access to `runId`'s page until `expiresAt` (rounded down to the second). */
export function signRunLink(runId: string, secret: string, expiresAt: Date): string {
  if (!secret) throw new Error("signRunLink: the link secret is empty");
  const expiresSec = Math.floor(expiresAt.getTime() / 1000);
  if (!Number.isFinite(expiresSec)) throw new Error("signRunLink: invalid expiry");
  return `${TOKEN_VERSION}.${expiresSec}.${signature(runId, expiresSec, secret).toString("base64url")}`;
}

/** Checks a token for `runId` at `now`: right run, right secret, not expired. Timing-safe. */
export function verifyRunLink(runId: string, token: string | null | undefined, secret: string, now: Date): RunLinkVerdict {
  if (!secret || typeof token !== "string" || token.length > 200) return { ok: false, reason: "malformed" };
  const match = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!match) return { ok: false, reason: "malformed" };
  const expiresSec = Number(match[1]);
  const given = Buffer.from(match[2]!, "base64url");
  const expected = signature(runId, expiresSec, secret);
  // Check the signature first (constant time), so an attacker learns nothing from "expired".
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: "bad-signature" };
  if (now.getTime() >= expiresSec * 1000) return { ok: false, reason: "expired" };
  return { ok: true, expiresAt: new Date(expiresSec * 1000) };
}

/** The run page's address, with a token valid for `ttlMs` from `now`: for a check run's `details_url`. */
export function runPageUrl(publicUrl: string, runId: string, secret: string, now: Date, ttlMs: number): string {
  const base = publicUrl.replace(/\/+$/, "");
  const token = signRunLink(runId, secret, new Date(now.getTime() + ttlMs));
  return `${base}/runs/${encodeURIComponent(runId)}?token=${encodeURIComponent(token)}`;
}

/** `runPageUrl` when both YACI_PUBLIC_URL and YACI_LINK_SECRET are set, else undefined (no details_url). */
export function detailsUrl(
  env: { publicUrl?: string; linkSecret?: string; linkTtlMs: number },
  runId: string,
  now: Date,
): string | undefined {
  if (!env.publicUrl || !env.linkSecret) return undefined;
  return runPageUrl(env.publicUrl, runId, env.linkSecret, now, env.linkTtlMs);
}

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
  sendHtml(res, 403, body, { "content-security-policy": "default-src 'none'", ...SECURITY_HEADERS });
}

/**
 * Shared checks of the run page and its event stream (run-page.ts): the page is on, the token is a
 * valid signed link for this run, the run exists. Answers the refusal itself and returns undefined
 * when refused.
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
