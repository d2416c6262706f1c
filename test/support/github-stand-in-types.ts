import type { IncomingHttpHeaders } from "node:http";
import type { GitHubState } from "./github-stand-in-state.js";

/** Records and route types of the GitHub stand-in. */

export interface StandInOptions {
  /** App id the JWT's `iss` must equal (default TEST_APP_ID). */
  appId?: number | string;
  /** PEM public key the app JWTs are verified with (default TEST_PUBLIC_KEY). */
  publicKey?: string;
  /** Installation token lifetime (default 3600 s, like GitHub). */
  tokenTtlSeconds?: number;
  /** Requests per token per hour (default 5000). */
  rateLimit?: number;
  /** Permissions of installations created implicitly (default DEFAULT_INSTALLATION_PERMISSIONS). */
  installationPermissions?: Record<string, "read" | "write">;
  /** The clock that stamps each recorded request's `time` (default: the real one); give it the app's injected clock. */
  requestClock?: () => number;
}

export const DEFAULT_INSTALLATION_PERMISSIONS: Record<string, "read" | "write"> = {
  metadata: "read",
  contents: "read",
  checks: "write",
  statuses: "write",
  issues: "write",
  pull_requests: "write",
};

export interface RecordedRequest {
  index: number;
  method: string;
  /** Relative to `/api/v3`, without the query. */
  path: string;
  /** Path and query as received. */
  url: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: unknown;
  time: Date;
  /** Set once answered. */
  status?: number;
  /** "jwt", "anonymous" or the installation token used. */
  auth?: string;
  token?: TokenRecord;
  faulted?: boolean;
}

export interface TokenRecord {
  token: string;
  installationId: number;
  permissions: Record<string, string>;
  /** Repository names the token is limited to (undefined: all repositories of the installation). */
  repositories?: string[];
  repositoryIds?: number[];
  /** The body of the access_tokens request. */
  requested: unknown;
  createdAt: Date;
  expiresAt: Date;
}

export interface InstallationRecord {
  id: number;
  account?: string;
  permissions: Record<string, "read" | "write">;
  /** Repository names the installation may access (undefined: all). */
  repositories?: string[];
  removed?: boolean;
}

export interface Violation {
  method: string;
  path: string;
  body: unknown;
  errors: string[];
  time: Date;
}

export interface Fault {
  method?: string;
  /** A RegExp tested against the API path, or a substring of it (e.g. "/check-runs"). */
  pathPattern?: string | RegExp;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** How many matching requests fail (default 1). */
  times?: number;
}

export interface CheckRunRecord {
  id: number;
  owner: string;
  repo: string;
  head_sha: string;
  name: string;
  status: string;
  conclusion: string | null;
  details_url: string | null;
  external_id: string | null;
  started_at: string | null;
  completed_at: string | null;
  output: { title: string | null; summary: string | null; text: string | null };
  /** All annotations, appended across writes like GitHub does. */
  annotations: unknown[];
  actions: unknown[];
  check_suite_id: number;
  /** Every create/update body, in order. */
  history: Array<Record<string, unknown>>;
  created_at: string;
  updated_at: string;
}

export interface StatusRecord {
  id: number;
  owner: string;
  repo: string;
  sha: string;
  state: string;
  target_url: string | null;
  description: string | null;
  context: string;
  created_at: string;
}

export interface CommentRecord {
  id: number;
  owner: string;
  repo: string;
  issue_number: number;
  body: string;
  history: string[];
  created_at: string;
  updated_at: string;
}

export interface DeliveryRecord {
  id: number;
  guid: string;
  delivered_at: string;
  redelivery: boolean;
  duration: number;
  status: string;
  status_code: number;
  event: string;
  action: string | null;
  installation_id: number | null;
  repository_id: number | null;
  throttled_at: string | null;
  /** Kept so that a redelivery can resend it; not listed by GET /app/hook/deliveries. */
  payload?: unknown;
}

export interface RepoFile {
  content: Buffer;
  mode: number;
}

export interface Reply {
  status: number;
  body?: unknown;
  /** Sent as is instead of JSON. */
  raw?: Buffer | string;
  headers?: Record<string, string>;
}

export interface RouteContext {
  method: string;
  /** Path relative to `/api/v3` (full pathname for non-API routes), without the query. */
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: unknown;
  token?: TokenRecord;
  standIn: GitHubState;
  /** Answers 422 with GitHub's error shape and records the violation. */
  invalid(errors: string[]): Reply;
}

/** Permission names to the level needed; a route needs any one of them (e.g. issues OR pull_requests). */
export type PermissionNeed = Record<string, "read" | "write">;

export interface Route {
  method: string;
  /** `/repos/:owner/:repo/contents/*path`: `:x` is one segment, `*x` the rest (may be empty). */
  pattern: string;
  /** jwt: app JWT; token: installation token; none: anyone (rate limit, codeload). */
  auth: "jwt" | "token" | "none";
  /** Routes outside `/api/v3` (the codeload redirect target). */
  outsideApi?: boolean;
  permission?: PermissionNeed;
  handler: (ctx: RouteContext) => Reply | Promise<Reply>;
}

export const DOCS = "https://docs.github.com/rest";

export function notFound(): Reply {
  return { status: 404, body: { message: "Not Found", documentation_url: DOCS, status: "404" } };
}
