import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Signed, expiring links to a run page. A token is `v1.<expires, unix seconds>.<signature>` where
 * the signature is HMAC-SHA256 (key: YACI_LINK_SECRET) over the version, the run id and the
 * expiry: it is valid for that one run until it expires, and cannot be moved to another run.
 */

const VERSION = "v1";

export type RunLinkVerdict = { ok: true; expiresAt: Date } | { ok: false; reason: "malformed" | "expired" | "bad-signature" };

function signature(runId: string, expiresSec: number, secret: string): Buffer {
  return createHmac("sha256", secret).update(`yaci-run-link\n${VERSION}\n${runId}\n${expiresSec}`).digest();
}

/** A token granting read access to `runId`'s page until `expiresAt` (rounded down to the second). */
export function signRunLink(runId: string, secret: string, expiresAt: Date): string {
  if (!secret) throw new Error("signRunLink: the link secret is empty");
  const expiresSec = Math.floor(expiresAt.getTime() / 1000);
  if (!Number.isFinite(expiresSec)) throw new Error("signRunLink: invalid expiry");
  return `${VERSION}.${expiresSec}.${signature(runId, expiresSec, secret).toString("base64url")}`;
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
