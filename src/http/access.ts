import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { HttpDeps, RunView } from "./env.js";
import { sendError, sendHtml } from "./respond.js";

/**
 * Access to the HTTP surface, in one place: signed run links (run pages), bearer tokens (the API,
 * metrics) and the per-address limit on failed authentication.
 */

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

/**
 * Who may call a protected route: bearer tokens (the API's, the metrics'), compared in constant
 * time, and a per-address limit on failed authentication (401 and 403 answers) so that a client
 * cannot guess tokens or link signatures at line rate.
 */

/** Compares two secrets in constant time, whatever their lengths (both are hashed first). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== "string" || header.length > 1024) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m ? m[1] : undefined;
}

/**
 * Checks `Authorization: Bearer <expected>`; answers 401 itself (naming `variable`, never its value)
 * and returns false when the header is missing or wrong.
 */
export function checkBearer(req: IncomingMessage, res: ServerResponse, expected: string, variable: string): boolean {
  const given = bearerToken(req);
  if (given !== undefined && safeEqual(given, expected)) return true;
  sendError(res, 401, given === undefined ? `missing bearer token: send Authorization: Bearer $${variable}` : "invalid bearer token", {
    "www-authenticate": 'Bearer realm="yaci"',
  });
  return false;
}

/** The address a request came from, as the limiter counts it ("unknown" when the socket has none). */
export function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? "unknown";
}

export interface AuthLimitOptions {
  /** Failures allowed per address within `windowMs`; the next request is refused. Default 10. */
  maxFailures?: number;
  /** The sliding window, in ms. Default one minute. */
  windowMs?: number;
  /** Addresses remembered at most (the oldest are forgotten first). Default 10,000. */
  maxAddresses?: number;
  /** Milliseconds since the epoch (injectable: a test drives time). */
  now(): number;
}

/**
 * Failed authentications per client address in a sliding window. Once an address has
 * `maxFailures` failures in the last `windowMs`, `retryAfterMs` says how long it must wait; until
 * then every protected route answers it 429 without looking at its credentials.
 */
export class AuthFailureLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxAddresses: number;

  constructor(private readonly options: AuthLimitOptions) {
    this.maxFailures = options.maxFailures ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxAddresses = options.maxAddresses ?? 10_000;
  }

  /** The recent failures of `address` (older ones dropped). */
  private recent(address: string): number[] {
    const list = this.failures.get(address);
    if (!list) return [];
    const since = this.options.now() - this.windowMs;
    while (list.length > 0 && list[0]! <= since) list.shift();
    if (list.length === 0) this.failures.delete(address);
    return list;
  }

  /** 0 when `address` may try; else the milliseconds until its oldest counted failure expires. */
  retryAfterMs(address: string): number {
    const list = this.recent(address);
    if (list.length < this.maxFailures) return 0;
    return Math.max(1, list[0]! + this.windowMs - this.options.now());
  }

  /** Counts one failed authentication of `address`. */
  fail(address: string): void {
    const list = this.recent(address);
    list.push(this.options.now());
    if (list.length > this.maxFailures) list.splice(0, list.length - this.maxFailures);
    this.failures.delete(address); // re-insert: the Map's order is "least recently failed first"
    this.failures.set(address, list);
    while (this.failures.size > this.maxAddresses) this.failures.delete(this.failures.keys().next().value!);
  }
}

/** Answers 429 with `Retry-After` (whole seconds) for an address over the failure limit. */
export function sendTooManyFailures(res: ServerResponse, retryAfterMs: number, headers: Record<string, string> = {}): void {
  const seconds = Math.ceil(retryAfterMs / 1000);
  sendError(res, 429, `too many failed authentication attempts from your address: retry in ${seconds} s`, {
    "retry-after": String(seconds),
    ...headers,
  });
}
