import { randomUUID } from "node:crypto";
import { TEST_APP_ID, TEST_PUBLIC_KEY } from "./test-app-keys.js";
import { sendWebhook } from "./webhooks.js";

import {
  DEFAULT_INSTALLATION_PERMISSIONS,
  type CheckRunRecord,
  type CommentRecord,
  type DeliveryRecord,
  type Fault,
  type InstallationRecord,
  type RecordedRequest,
  type RepoFile,
  type StandInOptions,
  type StatusRecord,
  type TokenRecord,
  type Violation,
} from "./github-stand-in-types.js";

export * from "./github-stand-in-types.js";

/** The GitHub stand-in's recorded state and test-facing model; the HTTP layer is in github-stand-in.ts. */

const key = (owner: string, repo: string) => `${owner}/${repo}`.toLowerCase();

export class GitHubState {
  readonly appId: string;
  readonly publicKey: string;
  readonly tokenTtlSeconds: number;
  readonly rateLimit: number;
  readonly installationPermissions: Record<string, "read" | "write">;

  /** Every request, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  /** Requests no route matched (answered 404). */
  readonly unhandled: RecordedRequest[] = [];
  /** Requests answered 422 by validation (OpenAPI schema or GitHub's extra limits). */
  readonly violations: Violation[] = [];
  /** Installation tokens minted, with their scope. */
  readonly tokens: TokenRecord[] = [];
  readonly checkRuns: CheckRunRecord[] = [];
  readonly statuses: StatusRecord[] = [];
  readonly comments: CommentRecord[] = [];
  readonly reactions: Array<{ id: number; owner: string; repo: string; comment_id: number; content: string }> = [];
  /** Tarball downloads through the API route, with the token that asked. */
  readonly tarballDownloads: Array<{ owner: string; repo: string; ref: string; sha: string; token: TokenRecord }> = [];
  readonly deliveries: DeliveryRecord[] = [];
  readonly redeliveryAttempts: Array<{ deliveryId: number; guid: string; time: Date; status?: number }> = [];
  readonly installations = new Map<number, InstallationRecord>();
  /** Exceptions thrown by the stand-in's own handlers (answered 500): a test should expect none. */
  readonly errors: unknown[] = [];

  readonly files = new Map<string, Map<string, Map<string, RepoFile>>>();
  readonly refs = new Map<string, Map<string, string>>();
  readonly repoIds = new Map<string, number>();
  readonly permissions = new Map<string, string>();
  readonly pulls = new Map<string, Record<string, unknown>>();
  readonly codeloadTokens = new Map<string, { owner: string; repo: string; sha: string }>();
  webhookTarget: { url: string; secret: string } | undefined;
  /**
   * Called with each request as it arrives, before it is served (its body read): a test may act at
   * that exact moment (e.g. SIGKILL the app, whose write is then applied but never answered).
   */
  onRequest: ((r: RecordedRequest) => void) | undefined;

  private faults: Array<Fault & { remaining: number }> = [];
  private holds: Array<{ method?: string; pathPattern: string | RegExp; released: Promise<void>; waiting: number }> = [];
  private rateUsed = new Map<string, number>();
  private nextIds = 1000;

  constructor(opts: StandInOptions = {}) {
    this.appId = String(opts.appId ?? TEST_APP_ID);
    this.publicKey = opts.publicKey ?? TEST_PUBLIC_KEY;
    this.tokenTtlSeconds = opts.tokenTtlSeconds ?? 3600;
    this.rateLimit = opts.rateLimit ?? 5000;
    this.installationPermissions = opts.installationPermissions ?? DEFAULT_INSTALLATION_PERMISSIONS;
    this.requestClock = opts.requestClock ?? Date.now;
  }

  private readonly requestClock: () => number;

  /** `http://127.0.0.1:PORT`; set by the server once listening. */
  get origin(): string {
    return "";
  }
  /** `http://127.0.0.1:PORT/api/v3` */
  get baseUrl(): string {
    return `${this.origin}/api/v3`;
  }

  nextId(): number {
    return ++this.nextIds;
  }

  // ---- repository model -------------------------------------------------------------

  /** Stores a file of commit `sha` (served by contents and tarball). */
  setFile(owner: string, repo: string, sha: string, path: string, content: string | Buffer, opts: { mode?: number } = {}): void {
    const repoFiles = this.files.get(key(owner, repo)) ?? new Map<string, Map<string, RepoFile>>();
    this.files.set(key(owner, repo), repoFiles);
    const commit = repoFiles.get(sha) ?? new Map<string, RepoFile>();
    repoFiles.set(sha, commit);
    commit.set(path.replace(/^\/+/, ""), { content: Buffer.from(content), mode: opts.mode ?? 0o644 });
    this.repoId(owner, repo);
  }

  setFiles(owner: string, repo: string, sha: string, files: Record<string, string | Buffer>): void {
    for (const [path, content] of Object.entries(files)) this.setFile(owner, repo, sha, path, content);
  }

  /** Points a branch or tag name at a commit (the first one set is the default branch's). */
  setRef(owner: string, repo: string, ref: string, sha: string): void {
    const refs = this.refs.get(key(owner, repo)) ?? new Map<string, string>();
    this.refs.set(key(owner, repo), refs);
    refs.set(ref.replace(/^refs\/(heads|tags)\//, ""), sha);
  }

  /** Resolves a branch, tag, full or abbreviated (≥ 7) SHA to a commit that has files. */
  resolveRef(owner: string, repo: string, ref: string | undefined): string | undefined {
    const refs = this.refs.get(key(owner, repo));
    const commits = this.files.get(key(owner, repo));
    const name = ref?.replace(/^refs\/(heads|tags)\//, "");
    if (name === undefined) return refs?.get("main") ?? refs?.values().next().value;
    if (refs?.has(name)) return refs.get(name);
    if (commits?.has(name)) return name;
    if (name.length >= 7) return [...(commits?.keys() ?? [])].find((sha) => sha.startsWith(name));
    return undefined;
  }

  commitFiles(owner: string, repo: string, sha: string): Map<string, RepoFile> | undefined {
    return this.files.get(key(owner, repo))?.get(sha);
  }

  /** Registers a repository id (e.g. from a webhook payload's `repository.id`). */
  addRepository(owner: string, repo: string, id: number): void {
    this.repoIds.set(key(owner, repo), id);
  }

  repoId(owner: string, repo: string): number {
    const k = key(owner, repo);
    if (!this.repoIds.has(k)) this.repoIds.set(k, 500_000 + this.repoIds.size);
    return this.repoIds.get(k)!;
  }

  /** `"admin" | "maintain" | "write" | "triage" | "read" | "none"`; users not set get "none". */
  setPermission(owner: string, repo: string, user: string, level: string): void {
    this.permissions.set(`${key(owner, repo)}#${user.toLowerCase()}`, level);
  }

  permissionOf(owner: string, repo: string, user: string): string {
    return this.permissions.get(`${key(owner, repo)}#${user.toLowerCase()}`) ?? "none";
  }

  /** The body `GET /repos/{o}/{r}/pulls/{n}` answers with (merged over `{ number, state: "open" }`). */
  setPull(owner: string, repo: string, number: number, data: Record<string, unknown>): void {
    this.pulls.set(`${key(owner, repo)}#${number}`, { number, state: "open", ...data });
  }

  pull(owner: string, repo: string, number: number): Record<string, unknown> | undefined {
    return this.pulls.get(`${key(owner, repo)}#${number}`);
  }

  // ---- installations ------------------------------------------------------------------

  addInstallation(id: number, opts: Partial<Omit<InstallationRecord, "id">> = {}): InstallationRecord {
    const inst: InstallationRecord = { id, permissions: this.installationPermissions, ...opts };
    this.installations.set(id, inst);
    return inst;
  }

  /** Later token requests for it answer 404, like an uninstalled app. */
  removeInstallation(id: number): void {
    this.addInstallation(id, { ...this.installations.get(id), removed: true });
  }

  /** The installation, created on first use unless removed. */
  installation(id: number): InstallationRecord | undefined {
    const inst = this.installations.get(id) ?? this.addInstallation(id);
    return inst.removed ? undefined : inst;
  }

  // ---- check runs ---------------------------------------------------------------------

  checkRunsFor(owner: string, repo: string, sha: string): CheckRunRecord[] {
    return this.checkRuns.filter((r) => key(r.owner, r.repo) === key(owner, repo) && r.head_sha === sha);
  }

  checkRun(id: number): CheckRunRecord | undefined {
    return this.checkRuns.find((r) => r.id === id);
  }

  // ---- webhook deliveries ---------------------------------------------------------------

  /** Where `deliver()` and redelivery attempts POST webhooks (the app's webhook URL). */
  setWebhookTarget(url: string, secret: string): void {
    this.webhookTarget = { url, secret };
  }

  /** Adds an entry to `GET /app/hook/deliveries` (newest last here; listed newest first). */
  addDelivery(d: Partial<DeliveryRecord> & { event: string }): DeliveryRecord {
    const payload = d.payload as { action?: string; installation?: { id?: number }; repository?: { id?: number } } | undefined;
    const code = d.status_code ?? 200;
    const record: DeliveryRecord = {
      id: this.nextId(),
      guid: randomUUID(),
      delivered_at: new Date().toISOString(),
      redelivery: false,
      duration: 0.1,
      status: code === 0 ? "Failed to connect to host" : code < 300 ? "OK" : `Invalid HTTP Response: ${code}`,
      status_code: code,
      action: payload?.action ?? null,
      installation_id: payload?.installation?.id ?? null,
      repository_id: payload?.repository?.id ?? null,
      throttled_at: null,
      ...d,
    };
    this.deliveries.push(record);
    return record;
  }

  /**
   * Sends a webhook to the target like GitHub (signed, 10 s timeout) and records the delivery
   * with its outcome (status_code 0 when the app did not answer).
   */
  async deliver(event: string, payload: unknown, opts: { deliveryId?: string; redelivery?: boolean } = {}): Promise<DeliveryRecord> {
    const target = this.webhookTarget;
    if (!target) throw new Error("setWebhookTarget() first");
    const guid = opts.deliveryId ?? randomUUID();
    const started = Date.now();
    let code = 0;
    try {
      code = await sendWebhook(target.url, { event, payload, secret: target.secret, deliveryId: guid });
    } catch {
      code = 0;
    }
    return this.addDelivery({ event, payload, guid, status_code: code, redelivery: opts.redelivery ?? false, duration: (Date.now() - started) / 1000 });
  }

  // ---- faults, recording, rate limits -------------------------------------------------

  /** The next matching request(s) get this answer instead of being served. */
  failNext(fault: Fault): void {
    this.faults.push({ ...fault, remaining: fault.times ?? 1 });
  }

  /** GitHub's secondary rate limit: 403 with `retry-after` and the documented message. */
  secondaryRateLimit(opts: { method?: string; pathPattern?: string | RegExp; retryAfter?: number; times?: number } = {}): void {
    this.failNext({
      method: opts.method,
      pathPattern: opts.pathPattern,
      times: opts.times,
      status: 403,
      headers: { "retry-after": String(opts.retryAfter ?? 1) },
      body: {
        message:
          "You have exceeded a secondary rate limit and have been temporarily blocked from content creation. Please retry your request again later.",
        documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
        status: "403",
      },
    });
  }

  /**
   * Matching requests are not answered until `release()` (a slow GitHub, or one that does not answer
   * before the app dies); their callers wait. `waiting()` counts the requests held so far.
   */
  hold(opts: { method?: string; pathPattern: string | RegExp }): { release(): void; waiting(): number } {
    let release!: () => void;
    const h = { ...opts, released: new Promise<void>((r) => (release = r)), waiting: 0 };
    this.holds.push(h);
    return {
      release: () => {
        this.holds = this.holds.filter((x) => x !== h);
        release();
      },
      waiting: () => h.waiting,
    };
  }

  /** Resolves once no hold matches this request (at once when none does). */
  async waitForHolds(method: string, path: string): Promise<void> {
    for (const h of this.holds) {
      if (h.method && h.method.toUpperCase() !== method) continue;
      if (typeof h.pathPattern === "string" ? !path.includes(h.pathPattern) : !h.pathPattern.test(path)) continue;
      h.waiting++;
      await h.released;
    }
  }

  /**
   * A GitHub having a bad day, reproducibly: from now on each API request matching `match` (all by
   * default) is answered, with probability `rate`, by one of `statuses` (5xx) instead of being
   * served, and up to `secondaryRateLimits` writes (POST/PATCH/PUT/DELETE) get GitHub's secondary
   * rate limit (403 + `retry-after: retryAfterSeconds`) with probability `secondaryRate`. Draws come
   * from a PRNG seeded with `seed`: the same seed gives the same sequence of answers (which request
   * meets which answer still depends on their order of arrival). `chaosStats` counts what was sent.
   */
  chaos(opts: {
    seed: number;
    rate: number;
    statuses?: number[];
    secondaryRateLimits?: number;
    secondaryRate?: number;
    retryAfterSeconds?: number;
    match?: (method: string, path: string) => boolean;
  }): void {
    this.chaosMode = { statuses: [500, 502, 503], secondaryRateLimits: 0, secondaryRate: 0.05, retryAfterSeconds: 1, ...opts, random: mulberry32(opts.seed) };
  }

  /** Ends `chaos()`: every request is served again. */
  calm(): void {
    this.chaosMode = undefined;
  }

  /** What `chaos()` answered instead of serving, by status. */
  readonly chaosStats: Record<number, number> = {};

  private chaosMode:
    | { rate: number; statuses: number[]; secondaryRateLimits: number; secondaryRate: number; retryAfterSeconds: number; random: () => number; match?: (method: string, path: string) => boolean }
    | undefined;

  /** The answer `chaos()` draws for this API request, if any. */
  chaosFault(method: string, path: string): Fault | undefined {
    const c = this.chaosMode;
    if (!c || (c.match && !c.match(method, path))) return undefined;
    const write = method !== "GET" && method !== "HEAD";
    const draw = c.random();
    if (write && c.secondaryRateLimits > 0 && draw < c.secondaryRate) {
      c.secondaryRateLimits--;
      this.chaosStats[403] = (this.chaosStats[403] ?? 0) + 1;
      return {
        status: 403,
        headers: { "retry-after": String(c.retryAfterSeconds) },
        body: {
          message:
            "You have exceeded a secondary rate limit and have been temporarily blocked from content creation. Please retry your request again later.",
          documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
          status: "403",
        },
      };
    }
    if (c.random() >= c.rate) return undefined;
    const status = c.statuses[Math.floor(c.random() * c.statuses.length)]!;
    this.chaosStats[status] = (this.chaosStats[status] ?? 0) + 1;
    return { status, body: { message: status === 503 ? "Service Unavailable" : status === 502 ? "Server Error" : "Internal Server Error" } };
  }

  takeFault(method: string, path: string): Fault | undefined {
    const i = this.faults.findIndex(
      (f) =>
        (!f.method || f.method.toUpperCase() === method) &&
        (f.pathPattern === undefined || (typeof f.pathPattern === "string" ? path.includes(f.pathPattern) : f.pathPattern.test(path))),
    );
    if (i < 0) return undefined;
    const fault = this.faults[i]!;
    if (--fault.remaining <= 0) this.faults.splice(i, 1);
    return fault;
  }

  recordRequest(r: Omit<RecordedRequest, "index" | "time">): RecordedRequest {
    const record: RecordedRequest = { ...r, index: this.requests.length, time: new Date(this.requestClock()) };
    this.requests.push(record);
    this.onRequest?.(record);
    return record;
  }

  /** Recorded requests with this method whose path matches (RegExp or substring). */
  requestsTo(method: string, pathPattern: string | RegExp): RecordedRequest[] {
    return this.requests.filter(
      (r) => r.method === method.toUpperCase() && (typeof pathPattern === "string" ? r.path.includes(pathPattern) : pathPattern.test(r.path)),
    );
  }

  /**
   * Content-creating requests (POST/PATCH/PUT/DELETE) made with an installation's token, in
   * arrival order: what GitHub counts against that installation's 80/min, 500/h budget.
   */
  writesBy(installationId: number): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== "GET" && r.method !== "HEAD" && r.token?.installationId === installationId);
  }

  /** The most writes of one installation that arrived within any `windowMs` (a sliding window). */
  mostWritesInWindow(installationId: number, windowMs: number): number {
    const times = this.writesBy(installationId).map((r) => r.time.getTime());
    let most = 0;
    for (let i = 0, j = 0; j < times.length; j++) {
      while (times[j]! - times[i]! >= windowMs) i++;
      most = Math.max(most, j - i + 1);
    }
    return most;
  }

  rateLimitHeaders(auth: string | undefined): Record<string, string> {
    const limit = auth === "anonymous" || auth === undefined ? 60 : this.rateLimit;
    const used = (this.rateUsed.get(auth ?? "anonymous") ?? 0) + 1;
    this.rateUsed.set(auth ?? "anonymous", used);
    return {
      "x-ratelimit-limit": String(limit),
      "x-ratelimit-remaining": String(Math.max(0, limit - used)),
      "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 3600),
      "x-ratelimit-used": String(used),
      "x-ratelimit-resource": "core",
    };
  }

  rateUsedBy(auth: string): number {
    return this.rateUsed.get(auth) ?? 0;
  }

  /** Polls until `predicate` is truthy and returns its value (see `waitFor`). */
  waitFor<T>(predicate: () => T | undefined | null | false | Promise<T | undefined | null | false>, opts: WaitForOptions = {}): Promise<T> {
    return waitFor(predicate, opts);
  }
}

/** A small seeded PRNG (mulberry32): the same seed, the same sequence in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  message?: string;
}

/**
 * Polls `predicate` until it returns a truthy value (which is returned), or throws after
 * `timeoutMs` (default 10 s) with `message`.
 */
export async function waitFor<T>(
  predicate: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  opts: WaitForOptions = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`waitFor timed out after ${opts.timeoutMs ?? 10_000} ms${opts.message ? `: ${opts.message}` : ""}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 25));
  }
}
