import { createVerify } from "node:crypto";
import { DOCS, notFound, type GitHubState, type PermissionNeed, type Reply, type TokenRecord } from "./github-stand-in-state.js";

/** Authentication as GitHub does it for apps: RS256 app JWTs and installation tokens. */

export type AuthResult =
  | { kind: "jwt"; iss: string }
  | { kind: "token"; token: TokenRecord }
  | { kind: "anonymous" }
  | { kind: "error"; reply: Reply };

const unauthorized = (message: string): AuthResult => ({
  kind: "error",
  reply: { status: 401, body: { message, documentation_url: DOCS, status: "401" } },
});

/** Checks the Authorization header against what the route needs. */
export function authenticate(state: GitHubState, need: "jwt" | "token" | "none", header: string | undefined): AuthResult {
  const match = /^(bearer|token)\s+(\S+)$/i.exec(header ?? "");
  const credential = match?.[2];
  const looksLikeJwt = credential !== undefined && credential.split(".").length === 3;
  if (need === "none") {
    if (credential && looksLikeJwt) return verifyJwt(state, credential);
    const token = credential ? state.tokens.find((t) => t.token === credential) : undefined;
    return token ? { kind: "token", token } : { kind: "anonymous" };
  }
  if (!credential) return unauthorized("Requires authentication");
  if (need === "jwt") {
    if (!looksLikeJwt) return unauthorized("A JSON web token could not be decoded");
    return verifyJwt(state, credential);
  }
  if (looksLikeJwt) return unauthorized("Bad credentials");
  const token = state.tokens.find((t) => t.token === credential);
  if (!token) return unauthorized("Bad credentials");
  if (token.expiresAt.getTime() <= Date.now()) return unauthorized("Bad credentials");
  return { kind: "token", token };
}

function verifyJwt(state: GitHubState, jwt: string): AuthResult {
  const [h, p, s] = jwt.split(".") as [string, string, string];
  let header: { alg?: string };
  let payload: { iss?: unknown; iat?: unknown; exp?: unknown };
  try {
    header = JSON.parse(Buffer.from(h, "base64url").toString("utf8")) as typeof header;
    payload = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as typeof payload;
  } catch {
    return unauthorized("A JSON web token could not be decoded");
  }
  if (header.alg !== "RS256") return unauthorized("A JSON web token could not be decoded");
  const ok = createVerify("RSA-SHA256").update(`${h}.${p}`).verify(state.publicKey, Buffer.from(s, "base64url"));
  if (!ok) return unauthorized("A JSON web token could not be decoded");
  if (String(payload.iss) !== state.appId) return unauthorized(`'Issuer' claim ('iss') must be an Integer`);
  const now = Math.floor(Date.now() / 1000);
  if (typeof payload.exp !== "number" || payload.exp <= now) {
    return unauthorized("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires");
  }
  if (typeof payload.iat !== "number" || payload.iat > now + 60) {
    return unauthorized("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued");
  }
  if (payload.exp - payload.iat > 660) return unauthorized("'Expiration time' claim ('exp') is too far in the future");
  return { kind: "jwt", iss: String(payload.iss) };
}

const LEVEL: Record<string, number> = { none: 0, read: 1, write: 2, admin: 3 };

/**
 * What an installation token may reach: its installation's account, the repositories it was
 * limited to (404 otherwise, GitHub hides them), and the permissions it carries (403).
 */
export function checkScope(state: GitHubState, token: TokenRecord, params: Record<string, string>, need?: PermissionNeed): Reply | undefined {
  const inst = state.installations.get(token.installationId);
  if (!inst || inst.removed) return { status: 401, body: { message: "Bad credentials", documentation_url: DOCS, status: "401" } };
  const { owner, repo } = params;
  if (owner && repo) {
    if (inst.account && inst.account.toLowerCase() !== owner.toLowerCase()) return notFound();
    const name = repo.toLowerCase();
    const id = state.repoId(owner, repo);
    const byName = token.repositories?.some((r) => r.toLowerCase() === name);
    const byId = token.repositoryIds?.includes(id);
    if ((token.repositories || token.repositoryIds) && !byName && !byId) return notFound();
    if (inst.repositories && !inst.repositories.some((r) => r.toLowerCase() === name)) return notFound();
  }
  if (need) {
    const granted = Object.entries(need).some(([perm, level]) => (LEVEL[token.permissions[perm] ?? "none"] ?? 0) >= (LEVEL[level] ?? 0));
    if (!granted) {
      return {
        status: 403,
        headers: { "x-accepted-github-permissions": Object.entries(need).map(([k, v]) => `${k}=${v}`).join("; ") },
        body: { message: "Resource not accessible by integration", documentation_url: DOCS, status: "403" },
      };
    }
  }
  return undefined;
}
