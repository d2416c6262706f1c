/**
 * Who a secret belongs to: an owner (a GitHub user or organisation: every repository of it) or one
 * repository (`owner/repo`, whose value wins over the owner's). GitHub's names are case-insensitive,
 * so scopes are kept in lower case. Names are checked against GitHub's rules before they become a
 * file path or a Kubernetes label: nothing like `..` or a slash in an owner gets through.
 */
import { ENV_NAME_RE } from "../config/schema.js";

export interface SecretScope {
  owner: string;
  repo?: string;
}

/** GitHub's user and organisation names: letters, digits and hyphens (not first or last), at most 39. */
const OWNER_RE = /^[a-z0-9](?:[a-z0-9-]{0,37}[a-z0-9])?$/;
/** GitHub's repository names: letters, digits, `.`, `_`, `-`, at most 100; never `.` or `..`. */
const REPO_RE = /^[a-z0-9._-]{1,100}$/;
/** The longest secret name accepted (a Kubernetes Secret key may be 253 characters). */
const MAX_NAME = 253;

/** Parses `OWNER` or `OWNER/REPO`; throws an Error saying what is wrong. */
export function parseScope(text: string): SecretScope {
  const parts = text.trim().toLowerCase().split("/");
  if (parts.length > 2) throw new Error(`"${text}" is not OWNER or OWNER/REPO`);
  const [owner, repo] = parts as [string, string | undefined];
  return scopeOf(owner, repo);
}

/** The scope of an owner (and a repository), checked. */
export function scopeOf(owner: string, repo?: string): SecretScope {
  const o = owner.toLowerCase();
  if (!OWNER_RE.test(o)) throw new Error(`"${owner}" is not a GitHub user or organisation name (letters, digits and inner hyphens, at most 39)`);
  if (repo === undefined) return { owner: o };
  const r = repo.toLowerCase();
  if (!REPO_RE.test(r) || r === "." || r === "..") throw new Error(`"${repo}" is not a GitHub repository name (letters, digits, '.', '_' and '-', at most 100)`);
  return { owner: o, repo: r };
}

export function scopeText(scope: SecretScope): string {
  return scope.repo === undefined ? scope.owner : `${scope.owner}/${scope.repo}`;
}

/** Throws unless `name` can be an environment variable (and a Kubernetes Secret key). */
export function checkSecretName(name: string): void {
  if (!ENV_NAME_RE.test(name) || name.length > MAX_NAME) {
    throw new Error(`"${name}" is not a valid secret name: letters, digits and '_', not starting with a digit (an environment variable's name)`);
  }
}
