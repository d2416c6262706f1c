/**
 * A Kubernetes API stand-in on 127.0.0.1 that speaks real HTTP, for testing the Kubernetes
 * executor with the real client (`@kubernetes/client-node` cannot be intercepted by nock).
 *
 * One namespace; batch/v1 Jobs, v1 Pods, v1 Secrets and pods/log. Lists honour `labelSelector`,
 * `limit` and `continue` (paged) and return a resourceVersion; watches (`?watch=true&resourceVersion=`) stream
 * ADDED / MODIFIED / DELETED lines from the event history (and BOOKMARKs when asked), answer
 * `410 Gone` for a resourceVersion older than the history (in the stream, or as the HTTP status),
 * and can be dropped or held. Creates answer 409 AlreadyExists for a duplicate, 422 for an invalid
 * name; DELETE honours `propagationPolicy` (owned pods and Secrets go with their Job); merge
 * patches honour a `metadata.resourceVersion` precondition (409 Conflict).
 *
 * A scriptable kubelet + job controller (`standIn.kubelet`) drives pods: schedule, run, exit
 * with a code, OOMKilled, image pull errors, Unschedulable, eviction, pod deletion, deadline;
 * `kubelet.execute(job)` really runs the main container's command here, with the environment the
 * kubelet would give it (`secretKeyRef`s read from the stored Secrets).
 * Every request is counted by verb and resource (`count("create", "jobs")`). With `realistic`, the
 * objects carry what a real API server adds (managedFields, defaults); with `simulatePods`, pods
 * start by themselves (scheduled, init container, main running: one event each) — no processes.
 *
 * `pods/log` with `follow=true` keeps the response open while the container runs: it streams what
 * the kubelet appends (`kubelet.log(job, text)`) and ends when the container terminates or the
 * pod is deleted (`followCount` says how many such streams are open).
 */
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { decorateCreated, decorateModified } from "./kube-stand-in-sim.js";

// Loosely typed on purpose: the stand-in handles raw JSON like the API server does.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KObj = Record<string, any>;
export type Resource = "jobs" | "pods" | "secrets" | "leases";
export type Verb = "list" | "watch" | "get" | "create" | "patch" | "update" | "delete";

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  verb: Verb | "other";
  resource: Resource | "pods/log" | "other";
  /** Which client sent it: the name its token was minted for (`kubeconfigYaml(client)`); undefined for the default token. */
  client?: string;
  /** The body of a PATCH or PUT (what was changed). */
  body?: string;
  /** When it arrived (ms since the epoch). */
  at?: number;
}

export interface KubeStandInOptions {
  namespace?: string;
  port?: number;
  /** The job controller creates a pod for every new Job (default true). */
  autoPod?: boolean;
  /** How a too-old resourceVersion is answered: an ERROR event in a 200 stream (like the API server) or HTTP 410. */
  goneAs?: "event" | "status";
  /** Send a BOOKMARK this often on watches that allow them (default: never). */
  bookmarkIntervalMs?: number;
  /** Bearer token the stand-in requires (default `stand-in-token`). */
  token?: string;
  /** Objects as a real API server stores them: managedFields and server defaults (kube-stand-in-sim.ts). */
  realistic?: boolean;
  /**
   * Simulated pods: every pod created goes through scheduling, its init container and the start
   * of `main` by itself (one watch event each, as a real kubelet reports them), with `log` as the
   * main container's output; it runs until the test ends it (`kubelet.succeed`, …).
   */
  simulatePods?: { log?: (job: string) => string };
}

interface Watcher {
  resource: Resource;
  selector: Selector;
  res: ServerResponse;
  bookmark?: NodeJS.Timeout;
}

/** An open `pods/log?follow=true` response and how much of the log it has sent. */
interface LogFollower {
  key: string;
  res: ServerResponse;
  sent: number;
  /** Bytes it may still send (`limitBytes`), or Infinity. */
  budget: number;
}

/** Container logs by `pod/container`; every change is pushed to the open follow streams. */
class LogMap extends Map<string, string> {
  onChange: ((key: string) => void) | undefined;

  override set(key: string, value: string): this {
    super.set(key, value);
    this.onChange?.(key);
    return this;
  }

  override delete(key: string): boolean {
    const had = super.delete(key);
    if (had) this.onChange?.(key);
    return had;
  }
}

interface HistoryEvent {
  rv: number;
  resource: Resource;
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: KObj;
}

type Requirement = { key: string; op: "=" | "!=" | "exists" | "!exists"; value?: string };
type Selector = Requirement[];

export function parseSelector(text: string | null): Selector {
  if (!text) return [];
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((part): Requirement => {
      let m = /^([^!=\s]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
      if (m) return { key: m[1]!, op: m[2] === "!=" ? "!=" : "=", value: m[3]! };
      m = /^!\s*(\S+)$/.exec(part);
      if (m) return { key: m[1]!, op: "!exists" };
      return { key: part, op: "exists" };
    });
}

export function matchesSelector(labels: Record<string, string> | undefined, selector: Selector): boolean {
  const l = labels ?? {};
  return selector.every((r) => {
    switch (r.op) {
      case "=":
        return l[r.key] === r.value;
      case "!=":
        return l[r.key] !== r.value;
      case "exists":
        return r.key in l;
      case "!exists":
        return !(r.key in l);
    }
  });
}

const clone = <T>(x: T): T => structuredClone(x);
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const GROUP: Record<Resource, { apiVersion: string; kind: string; group: string }> = {
  jobs: { apiVersion: "batch/v1", kind: "Job", group: "batch" },
  pods: { apiVersion: "v1", kind: "Pod", group: "" },
  secrets: { apiVersion: "v1", kind: "Secret", group: "" },
  leases: { apiVersion: "coordination.k8s.io/v1", kind: "Lease", group: "coordination.k8s.io" },
};

/** RFC 3339 with second precision, as the API server writes timestamps. */
export function kubeTime(d = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: KObj = target && typeof target === "object" && !Array.isArray(target) ? { ...(target as KObj) } : {};
  for (const [k, v] of Object.entries(patch as KObj)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function status(code: number, reason: string, message: string, details?: KObj): KObj {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code, ...(details ? { details } : {}) };
}

export class KubeStandIn {
  readonly namespace: string;
  readonly token: string;
  readonly kubelet: Kubelet;
  readonly objects: Record<Resource, Map<string, KObj>> = { jobs: new Map(), pods: new Map(), secrets: new Map(), leases: new Map() };
  /** Container logs by `pod/container`. */
  readonly logs = new LogMap();
  readonly requests: RecordedRequest[] = [];
  /** Tokens minted by `kubeconfigYaml(client)`, to the client's name. */
  private readonly clientTokens = new Map<string, string>();
  autoPod: boolean;
  goneAs: "event" | "status";
  readonly realistic: boolean;
  readonly simulatePods: KubeStandInOptions["simulatePods"];
  /** Watches stay connected but receive nothing: lost events, which only a re-list repairs. */
  muteWatches = false;
  /**
   * Called with each request as it arrives (method and path known; `verb` and `resource` not yet),
   * before it is served: a test may act at that exact moment (e.g. SIGKILL the app, whose request
   * is then carried out but never answered).
   */
  onRequest: ((req: IncomingMessage, rec: RecordedRequest) => void) | undefined;
  /**
   * Awaited before a create is carried out, with its parsed body: a test may hold it (e.g. keep two
   * replicas' claims of one Job in flight at once) and let it go later.
   */
  beforeCreate: ((resource: Resource, body: KObj) => Promise<void>) | undefined;
  private rv = 1000;
  /** Watches from a resourceVersion below this answer 410 Gone. */
  private minRv = 0;
  private history: HistoryEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly logFollowers = new Set<LogFollower>();
  private readonly heldWatches: Array<() => void> = [];
  private watchesHeld = false;
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  private bookmarkIntervalMs: number | undefined;
  url = "";
  port = 0;

  private constructor(o: KubeStandInOptions) {
    this.namespace = o.namespace ?? "yaci-test";
    this.token = o.token ?? "stand-in-token";
    this.autoPod = o.autoPod ?? true;
    this.realistic = o.realistic ?? false;
    this.simulatePods = o.simulatePods;
    this.goneAs = o.goneAs ?? "event";
    this.bookmarkIntervalMs = o.bookmarkIntervalMs;
    this.kubelet = new Kubelet(this);
    this.logs.onChange = (key) => this.pushLogs(key);
  }

  static async start(o: KubeStandInOptions = {}): Promise<KubeStandIn> {
    const s = new KubeStandIn(o);
    s.server = createServer((req, res) => {
      s.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) s.send(res, 500, status(500, "InternalError", String(err)));
        else res.destroy();
      });
    });
    s.server.on("connection", (sock) => {
      if (s.refusing) return void sock.destroy(); // "connection refused", as far as a client can tell
      s.sockets.add(sock);
      sock.on("close", () => s.sockets.delete(sock));
    });
    await new Promise<void>((resolve, reject) => {
      s.server.once("error", reject);
      s.server.listen(o.port ?? 0, "127.0.0.1", () => resolve());
    });
    s.port = (s.server.address() as AddressInfo).port;
    s.url = `http://127.0.0.1:${s.port}`;
    return s;
  }

  async close(): Promise<void> {
    for (const w of this.watchers) this.endWatch(w);
    for (const f of [...this.logFollowers]) this.endLogFollow(f);
    for (const release of this.heldWatches.splice(0)) release();
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- Test controls ------------------------------------------------------------------------

  /** While true, every new connection is closed at once and open ones are cut: the API is unreachable. */
  refusing = false;
  private faults: Array<{ status: number; retryAfter?: number; until?: number; times?: number; match?: (r: RecordedRequest) => boolean }> = [];

  /** The API becomes unreachable (connections refused and cut) until `acceptConnections()`. */
  refuseConnections(): void {
    this.refusing = true;
    for (const sock of this.sockets) sock.destroy();
  }

  acceptConnections(): void {
    this.refusing = false;
  }

  /**
   * Matching requests (all by default) are answered `status` (with `Retry-After` when given) instead
   * of being served: `times` of them, or every one until `forMs` has passed. Watches included.
   */
  failRequests(status: number, opts: { retryAfter?: number; times?: number; forMs?: number; match?: (r: RecordedRequest) => boolean } = {}): void {
    this.faults.push({ status, retryAfter: opts.retryAfter, times: opts.times, until: opts.forMs === undefined ? undefined : Date.now() + opts.forMs, match: opts.match });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Requests answered by an injected fault. */
  faulted = 0;

  private takeFault(rec: RecordedRequest): { status: number; retryAfter?: number } | undefined {
    this.faults = this.faults.filter((f) => (f.until === undefined || f.until > Date.now()) && (f.times === undefined || f.times > 0));
    const f = this.faults.find((x) => !x.match || x.match(rec));
    if (!f) return undefined;
    if (f.times !== undefined) f.times--;
    return f;
  }

  /** A KubeConfig for the real client (plain HTTP: skipTLSVerify, bearer token). */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromString(this.kubeconfigYaml());
    return kc;
  }

  /**
   * A kubeconfig pointing here. With `client`, its own token (accepted from now on), so each request
   * is recorded with the client that sent it (like the audit log's user for a pod's bound token).
   */
  kubeconfigYaml(client?: string): string {
    if (client) this.clientTokens.set(`${this.token}-${client}`, client);
    return [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- name: stand-in",
      "  cluster:",
      `    server: ${this.url}`,
      "    insecure-skip-tls-verify: true",
      "users:",
      "- name: stand-in",
      "  user:",
      `    token: ${client ? `${this.token}-${client}` : this.token}`,
      "contexts:",
      "- name: stand-in",
      "  context:",
      "    cluster: stand-in",
      "    user: stand-in",
      `    namespace: ${this.namespace}`,
      "current-context: stand-in",
      "",
    ].join("\n");
  }

  /** Writes a kubeconfig pointing here into `dir`; returns its path. */
  writeKubeconfig(dir: string, client?: string): string {
    const path = join(dir, client ? `kubeconfig-${client}` : "kubeconfig");
    writeFileSync(path, this.kubeconfigYaml(client));
    return path;
  }

  /** Requests of one verb (and resource), e.g. `count("create", "jobs")`. */
  count(verb: Verb | "other", resource?: RecordedRequest["resource"]): number {
    return this.requests.filter((r) => r.verb === verb && (resource === undefined || r.resource === resource)).length;
  }

  /** Counts by `verb resource`, for messages and the bench. */
  countsByKey(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.requests) {
      const key = `${r.verb} ${r.resource}`;
      out[key] = (out[key] ?? 0) + 1;
    }
    return out;
  }

  /** Closes every open watch connection, like a load balancer or an API server restart. */
  dropWatches(): number {
    const n = this.watchers.size;
    for (const w of [...this.watchers]) this.endWatch(w, true);
    return n;
  }

  /** New watch requests wait (unanswered) until `releaseWatches()`. */
  holdWatches(): void {
    this.watchesHeld = true;
  }

  releaseWatches(): void {
    this.watchesHeld = false;
    for (const release of this.heldWatches.splice(0)) release();
  }

  /** Forgets the event history: a watch from an older resourceVersion now gets 410 Gone. */
  compact(): void {
    this.history = [];
    this.minRv = this.rv + 1;
  }

  get watchCount(): number {
    return this.watchers.size;
  }

  /** Open `pods/log?follow=true` streams. */
  get followCount(): number {
    return this.logFollowers.size;
  }

  /** `pods/log` requests that asked to follow. */
  get followRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.resource === "pods/log" && r.query.get("follow") === "true");
  }

  get(resource: Resource, name: string): KObj | undefined {
    const o = this.objects[resource].get(name);
    return o ? clone(o) : undefined;
  }

  /** Every change of `resource` since the last `compact()`, oldest first (e.g. a Lease's renewals and take-overs). */
  changes(resource: Resource): Array<{ type: HistoryEvent["type"]; object: KObj }> {
    return this.history.filter((ev) => ev.resource === resource).map((ev) => ({ type: ev.type, object: clone(ev.object) }));
  }

  list(resource: Resource): KObj[] {
    return [...this.objects[resource].values()].map(clone);
  }

  /** Deletes a Job as `kubectl delete job` would (background propagation). */
  deleteJob(name: string, propagationPolicy: "Background" | "Foreground" | "Orphan" = "Background"): boolean {
    return this.deleteObject("jobs", name, propagationPolicy);
  }

  // ---- Store --------------------------------------------------------------------------------

  /** Stores an object and broadcasts the event; returns the stored copy. */
  put(resource: Resource, obj: KObj, type: "ADDED" | "MODIFIED"): KObj {
    this.rv++;
    obj.metadata.resourceVersion = String(this.rv);
    if (this.realistic) (type === "ADDED" ? decorateCreated : decorateModified)(resource, obj);
    this.objects[resource].set(obj.metadata.name, obj);
    this.record(resource, type, obj);
    return obj;
  }

  /** Applies `change` to a stored object and broadcasts MODIFIED. */
  modify(resource: Resource, name: string, change: (o: KObj) => void): KObj {
    const o = this.objects[resource].get(name);
    if (!o) throw new Error(`stand-in: no ${resource} ${name}`);
    change(o);
    return this.put(resource, o, "MODIFIED");
  }

  deleteObject(resource: Resource, name: string, propagationPolicy?: string): boolean {
    const o = this.objects[resource].get(name);
    if (!o) return false;
    this.objects[resource].delete(name);
    this.rv++;
    o.metadata.resourceVersion = String(this.rv);
    this.record(resource, "DELETED", o);
    if (resource === "pods") {
      for (const key of [...this.logs.keys()]) if (key.startsWith(`${name}/`)) this.logs.delete(key);
    }
    if (propagationPolicy === "Background" || propagationPolicy === "Foreground") {
      const uid = o.metadata.uid;
      for (const r of ["pods", "secrets"] as const) {
        for (const dep of [...this.objects[r].values()]) {
          if ((dep.metadata.ownerReferences ?? []).some((ref: KObj) => ref.uid === uid)) this.deleteObject(r, dep.metadata.name, propagationPolicy);
        }
      }
    }
    return true;
  }

  private record(resource: Resource, type: HistoryEvent["type"], obj: KObj): void {
    const ev: HistoryEvent = { rv: this.rv, resource, type, object: clone(obj) };
    this.history.push(ev);
    if (resource === "pods") this.podChanged(obj.metadata.name, type === "DELETED" ? undefined : obj);
    if (this.muteWatches) return;
    for (const w of this.watchers) {
      if (w.resource === resource && matchesSelector(obj.metadata.labels, w.selector)) this.writeEvent(w, ev);
    }
  }

  private writeEvent(w: Watcher, ev: { type: string; object: KObj }): void {
    if (!w.res.writableEnded) w.res.write(`${JSON.stringify({ type: ev.type, object: ev.object })}\n`);
  }

  private endWatch(w: Watcher, abrupt = false): void {
    this.watchers.delete(w);
    clearInterval(w.bookmark);
    if (abrupt) w.res.socket?.destroy();
    else w.res.end();
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  private send(res: ServerResponse, code: number, body: KObj | string, type = "application/json"): void {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(code, { "content-type": type, "content-length": Buffer.byteLength(text) });
    res.end(text);
  }

  private async readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://stand-in");
    const m = /^\/(api\/v1|apis\/batch\/v1|apis\/coordination\.k8s\.io\/v1)\/namespaces\/([^/]+)\/(jobs|pods|secrets|leases)(?:\/([^/]+)(?:\/(log))?)?$/.exec(url.pathname);
    const method = req.method ?? "GET";
    const rec: RecordedRequest = { method, path: url.pathname, query: url.searchParams, verb: "other", resource: "other", at: Date.now() };
    const client = this.clientTokens.get(String(req.headers.authorization ?? "").replace(/^Bearer /, ""));
    if (client) rec.client = client;
    this.requests.push(rec);
    this.onRequest?.(req, rec);
    const fault = this.takeFault(rec);
    if (fault) {
      this.faulted++;
      await this.readBody(req);
      res.writeHead(fault.status, { "content-type": "application/json", ...(fault.retryAfter !== undefined ? { "retry-after": String(fault.retryAfter) } : {}) });
      return void res.end(JSON.stringify(status(fault.status, fault.status === 429 ? "TooManyRequests" : "ServiceUnavailable", `injected ${fault.status}`)));
    }
    if (!client && req.headers.authorization !== `Bearer ${this.token}`) {
      await this.readBody(req);
      return this.send(res, 401, status(401, "Unauthorized", "Unauthorized"));
    }
    if (url.pathname === "/version" && method === "GET") {
      return this.send(res, 200, { major: "1", minor: "31", gitVersion: "v1.31.0-yaci-stand-in" });
    }
    if (!m) return this.send(res, 404, status(404, "NotFound", `the server could not find the requested resource (${url.pathname})`));
    const [, prefix, ns, resource, name, sub] = m as unknown as [string, string, string, Resource, string | undefined, string | undefined];
    if ((resource === "jobs") !== (prefix === "apis/batch/v1") || (resource === "leases") !== (prefix === "apis/coordination.k8s.io/v1")) return this.send(res, 404, status(404, "NotFound", "the server could not find the requested resource"));
    rec.resource = sub === "log" ? "pods/log" : resource;
    if (ns !== this.namespace) {
      return this.send(res, 403, status(403, "Forbidden", `${resource} is forbidden: User "yaci" cannot access resource "${resource}" in namespace "${ns}"`));
    }
    if (sub === "log") {
      rec.verb = "get";
      if (resource !== "pods" || method !== "GET" || !name) return this.send(res, 405, status(405, "MethodNotAllowed", "method not allowed"));
      return this.podLog(name, url.searchParams, res);
    }
    if (!name) {
      if (method === "GET") {
        const watch = url.searchParams.get("watch");
        rec.verb = watch === "true" || watch === "1" ? "watch" : "list";
        if (rec.verb === "watch") return this.watch(resource, url.searchParams, req, res);
        return this.listResponse(resource, url.searchParams, res);
      }
      if (method === "POST") {
        rec.verb = "create";
        const text = await this.readBody(req);
        if (this.beforeCreate) await this.beforeCreate(resource, parsedOrEmpty(text));
        return this.create(resource, text, res);
      }
      return this.send(res, 405, status(405, "MethodNotAllowed", "method not allowed"));
    }
    switch (method) {
      case "GET": {
        rec.verb = "get";
        const o = this.objects[resource].get(name);
        return o ? this.send(res, 200, o) : this.notFound(res, resource, name);
      }
      case "PUT":
        // A replace (Leases): with the resourceVersion read, so two writers cannot both win.
        rec.verb = "update";
        rec.body = await this.readBody(req);
        return this.replace(resource, name, rec.body, res);
      case "PATCH":
        rec.verb = "patch";
        rec.body = await this.readBody(req);
        return this.patch(resource, name, req, rec.body, res);
      case "DELETE": {
        rec.verb = "delete";
        const text = await this.readBody(req);
        let policy = url.searchParams.get("propagationPolicy") ?? undefined;
        if (text) {
          try {
            policy = (JSON.parse(text) as KObj).propagationPolicy ?? policy;
          } catch {
            /* not JSON */
          }
        }
        const o = this.objects[resource].get(name);
        if (!o) return this.notFound(res, resource, name);
        this.deleteObject(resource, name, policy);
        return this.send(res, 200, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details: { name, group: GROUP[resource].group, kind: resource, uid: o.metadata.uid } });
      }
      default:
        return this.send(res, 405, status(405, "MethodNotAllowed", "method not allowed"));
    }
  }

  private notFound(res: ServerResponse, resource: Resource, name: string): void {
    const g = GROUP[resource].group;
    this.send(res, 404, status(404, "NotFound", `${resource}${g ? `.${g}` : ""} "${name}" not found`, { name, group: g, kind: resource }));
  }

  private listResponse(resource: Resource, q: URLSearchParams, res: ServerResponse): void {
    const selector = parseSelector(q.get("labelSelector"));
    const all = [...this.objects[resource].values()].filter((o) => matchesSelector(o.metadata.labels, selector));
    // Paging: the continue token carries the first page's resourceVersion and the next offset.
    const [rv, offset] = (q.get("continue") ?? `${this.rv}:0`).split(":").map(Number) as [number, number];
    const limit = Number(q.get("limit") ?? 0);
    const items = all.slice(offset, limit > 0 ? offset + limit : undefined);
    const more = limit > 0 && offset + limit < all.length;
    const metadata = { resourceVersion: String(rv), ...(more ? { continue: `${rv}:${offset + limit}` } : {}) };
    this.send(res, 200, { kind: `${GROUP[resource].kind}List`, apiVersion: GROUP[resource].apiVersion, metadata, items });
  }

  private watch(resource: Resource, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
    const begin = () => {
      if (res.destroyed) return;
      const rvText = q.get("resourceVersion");
      const selector = parseSelector(q.get("labelSelector"));
      const from = rvText ? Number(rvText) : NaN;
      if (rvText && rvText !== "0" && (!Number.isFinite(from) || from < this.minRv - 1)) {
        const gone = status(410, "Expired", `too old resource version: ${rvText} (${this.minRv})`);
        if (this.goneAs === "status") return this.send(res, 410, gone);
        res.writeHead(200, { "content-type": "application/json" });
        res.end(`${JSON.stringify({ type: "ERROR", object: gone })}\n`);
        return;
      }
      res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
      res.flushHeaders();
      const w: Watcher = { resource, selector, res };
      if (!rvText || rvText === "0") {
        for (const o of this.objects[resource].values()) {
          if (matchesSelector(o.metadata.labels, selector)) this.writeEvent(w, { type: "ADDED", object: clone(o) });
        }
      } else {
        for (const ev of this.history) {
          if (ev.rv > from && ev.resource === resource && matchesSelector(ev.object.metadata.labels, selector)) this.writeEvent(w, ev);
        }
      }
      this.watchers.add(w);
      const bookmarks = q.get("allowWatchBookmarks") === "true" && this.bookmarkIntervalMs;
      if (bookmarks) {
        w.bookmark = setInterval(() => {
          this.writeEvent(w, { type: "BOOKMARK", object: { kind: GROUP[resource].kind, apiVersion: GROUP[resource].apiVersion, metadata: { resourceVersion: String(this.rv) } } });
        }, this.bookmarkIntervalMs);
      }
      const timeout = Number(q.get("timeoutSeconds") ?? 0);
      if (timeout > 0) setTimeout(() => this.watchers.has(w) && this.endWatch(w), timeout * 1000).unref();
      req.on("close", () => {
        this.watchers.delete(w);
        clearInterval(w.bookmark);
      });
    };
    if (this.watchesHeld) this.heldWatches.push(begin);
    else begin();
  }

  private create(resource: Resource, text: string, res: ServerResponse): void {
    let obj: KObj;
    try {
      obj = JSON.parse(text) as KObj;
    } catch {
      return this.send(res, 400, status(400, "BadRequest", "the body is not JSON"));
    }
    const name = obj?.metadata?.name;
    const kind = GROUP[resource].kind;
    const problems: string[] = [];
    if (typeof name !== "string" || !name) problems.push("metadata.name: Required value");
    else if (name.length > (resource === "jobs" || resource === "pods" ? 63 : 253) || !(resource === "secrets" ? DNS1123_SUBDOMAIN : DNS1123_LABEL).test(name)) {
      problems.push(`metadata.name: Invalid value: "${name}": must be a valid DNS-1123 name of at most 63 characters`);
    }
    for (const [k, v] of Object.entries((obj?.metadata?.labels ?? {}) as Record<string, unknown>)) {
      if (typeof v !== "string" || v.length > 63 || !LABEL_VALUE.test(v)) problems.push(`metadata.labels: Invalid value: "${String(v)}" (label ${k})`);
    }
    if (obj?.kind !== undefined && obj.kind !== kind) problems.push(`kind: Invalid value: "${obj.kind}"`);
    if (problems.length) return this.send(res, 422, status(422, "Invalid", `${kind} "${name}" is invalid: ${problems.join(", ")}`));
    if (this.objects[resource].has(name)) {
      const g = GROUP[resource].group;
      return this.send(res, 409, status(409, "AlreadyExists", `${resource}${g ? `.${g}` : ""} "${name}" already exists`, { name, group: g, kind: resource }));
    }
    obj.apiVersion = GROUP[resource].apiVersion;
    obj.kind = kind;
    obj.metadata = { ...obj.metadata, namespace: this.namespace, uid: randomUUID(), creationTimestamp: kubeTime(), generation: 1 };
    if (resource === "secrets" && obj.stringData) {
      obj.data = { ...(obj.data ?? {}) };
      for (const [k, v] of Object.entries(obj.stringData as Record<string, string>)) obj.data[k] = Buffer.from(v).toString("base64");
      delete obj.stringData;
    }
    if (resource === "jobs") {
      const uid = obj.metadata.uid;
      obj.spec.template.metadata = obj.spec.template.metadata ?? {};
      obj.spec.template.metadata.labels = { ...(obj.spec.template.metadata.labels ?? {}), "batch.kubernetes.io/job-name": name, "batch.kubernetes.io/controller-uid": uid };
      obj.status = {};
    }
    const stored = this.put(resource, obj, "ADDED");
    this.send(res, 201, stored);
    // The job controller creates no pod for a suspended Job (spec.suspend), until it is let start.
    if (resource === "jobs" && this.autoPod && !obj.spec?.suspend) this.kubelet.createPod(name);
  }

  private replace(resource: Resource, name: string, text: string, res: ServerResponse): void {
    const o = this.objects[resource].get(name);
    if (!o) return this.notFound(res, resource, name);
    let obj: KObj;
    try {
      obj = JSON.parse(text) as KObj;
    } catch {
      return this.send(res, 400, status(400, "BadRequest", "the body is not JSON"));
    }
    if (obj?.metadata?.name !== name) return this.send(res, 400, status(400, "BadRequest", "the name of the object does not match the name on the URL"));
    const rv = obj.metadata.resourceVersion;
    if (rv === undefined || rv === "") return this.send(res, 422, status(422, "Invalid", `${GROUP[resource].kind} "${name}" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update`));
    if (rv !== o.metadata.resourceVersion) {
      return this.send(res, 409, status(409, "Conflict", `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`));
    }
    obj.apiVersion = GROUP[resource].apiVersion;
    obj.kind = GROUP[resource].kind;
    obj.metadata = { ...obj.metadata, namespace: this.namespace, uid: o.metadata.uid, creationTimestamp: o.metadata.creationTimestamp };
    this.send(res, 200, this.put(resource, obj, "MODIFIED"));
  }

  private patch(resource: Resource, name: string, req: IncomingMessage, text: string, res: ServerResponse): void {
    const type = String(req.headers["content-type"] ?? "");
    if (!/merge-patch\+json|strategic-merge-patch\+json/.test(type)) {
      return this.send(res, 415, status(415, "UnsupportedMediaType", `the stand-in supports merge patches only, got ${type}`));
    }
    const o = this.objects[resource].get(name);
    if (!o) return this.notFound(res, resource, name);
    let patch: KObj;
    try {
      patch = JSON.parse(text) as KObj;
    } catch {
      return this.send(res, 400, status(400, "BadRequest", "the body is not JSON"));
    }
    const precondition = patch?.metadata?.resourceVersion;
    if (precondition !== undefined && precondition !== o.metadata.resourceVersion) {
      return this.send(res, 409, status(409, "Conflict", `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`));
    }
    const wasSuspended = resource === "jobs" && !!o.spec?.suspend;
    const next = mergePatch(o, patch) as KObj;
    next.metadata.name = name;
    next.metadata.uid = o.metadata.uid;
    this.send(res, 200, this.put(resource, next, "MODIFIED"));
    if (wasSuspended && !next.spec?.suspend && this.autoPod && !this.kubelet.pod(name)) this.kubelet.createPod(name);
  }

  /** Sends what was appended to `key`'s log to its follow streams. */
  private pushLogs(key: string): void {
    const text = this.logs.get(key);
    for (const f of [...this.logFollowers]) {
      if (f.key !== key) continue;
      if (text === undefined) {
        this.endLogFollow(f);
        continue;
      }
      // A replaced log (kubelet.exit with a log) sends what lies past what was already sent.
      if (text.length <= f.sent) {
        f.sent = text.length;
        continue;
      }
      let buf = Buffer.from(text.slice(f.sent), "utf8");
      f.sent = text.length;
      if (buf.length > f.budget) buf = buf.subarray(0, f.budget);
      f.budget -= buf.length;
      if (!f.res.writableEnded && buf.length) f.res.write(buf);
      if (f.budget <= 0) this.endLogFollow(f);
    }
  }

  /** A pod changed or is gone: its follow streams end once their container is no longer running. */
  private podChanged(name: string, pod: KObj | undefined): void {
    for (const f of [...this.logFollowers]) {
      const [podName, container] = f.key.split("/") as [string, string];
      if (podName !== name) continue;
      if (!pod) {
        this.endLogFollow(f);
        continue;
      }
      const all = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])] as KObj[];
      const st = all.find((s) => s.name === container);
      if (!st?.state?.running) {
        this.pushLogs(f.key);
        this.endLogFollow(f);
      }
    }
  }

  private endLogFollow(f: LogFollower): void {
    this.logFollowers.delete(f);
    if (!f.res.writableEnded) f.res.end();
  }

  private async podLog(name: string, q: URLSearchParams, res: ServerResponse): Promise<void> {
    const pod = this.objects.pods.get(name);
    if (!pod) return this.notFound(res, "pods", name);
    const container = q.get("container") ?? pod.spec.containers[0].name;
    const all = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])] as KObj[];
    const names = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c: KObj) => c.name);
    if (!names.includes(container)) return this.send(res, 400, status(400, "BadRequest", `container ${container} is not valid for pod ${name}`));
    const st = all.find((s) => s.name === container);
    if (!st || !(st.state?.running || st.state?.terminated)) {
      const why = st?.state?.waiting?.reason ?? "PodInitializing";
      return this.send(res, 400, status(400, "BadRequest", `container "${container}" in pod "${name}" is waiting to start: ${why}`));
    }
    const key = `${name}/${container}`;
    let text = this.logs.get(key) ?? "";
    const follow = q.get("follow") === "true" || q.get("follow") === "1";
    const whole = text.length;
    const tail = Number(q.get("tailLines") ?? 0);
    if (tail > 0) {
      const lines = text.split(/(?<=\n)/);
      text = lines.slice(-tail).join("");
    }
    let buf = Buffer.from(text, "utf8");
    const limit = Number(q.get("limitBytes") ?? 0);
    if (limit > 0) buf = buf.subarray(0, limit);
    if (follow && st.state?.running) {
      // Keep the response open: what the kubelet appends later is pushed by pushLogs().
      res.writeHead(200, { "content-type": "text/plain", "transfer-encoding": "chunked" });
      res.flushHeaders();
      if (buf.length) res.write(buf);
      const f: LogFollower = { key, res, sent: whole, budget: limit > 0 ? limit - buf.length : Infinity };
      this.logFollowers.add(f);
      res.on("close", () => this.logFollowers.delete(f));
      if (f.budget <= 0) this.endLogFollow(f);
      return;
    }
    res.writeHead(200, { "content-type": "text/plain", "transfer-encoding": "chunked" });
    // Stream in chunks, as the kubelet does.
    for (let i = 0; i < buf.length; i += 16 * 1024) {
      if (res.destroyed) return;
      if (!res.write(buf.subarray(i, i + 16 * 1024))) await new Promise((r) => res.once("drain", r));
    }
    res.end();
  }
}

function parsedOrEmpty(text: string): KObj {
  try {
    return JSON.parse(text) as KObj;
  } catch {
    return {};
  }
}

/** Container state helpers for the kubelet. */
function running(startedAt: string): KObj {
  return { running: { startedAt } };
}

function terminated(exitCode: number, reason: string, startedAt: string, message?: string): KObj {
  return { terminated: { exitCode, reason, startedAt, finishedAt: kubeTime(), ...(message ? { message } : {}) } };
}

/**
 * The stand-in's kubelet and job controller, driven by tests. Methods take the Job's name and act
 * on its newest pod; by default they also update the Job the way the job controller would.
 */
export class Kubelet {
  /** The pods `createPod` made for each Job, oldest first: finding a Job's pod needs no scan of all pods. */
  private readonly podsOf = new Map<string, string[]>();

  constructor(private readonly s: KubeStandIn) {}

  /** The Job's newest pod (a copy). Pods iterate in creation order (Map insertion order). */
  pod(job: string): KObj | undefined {
    const names = this.podsOf.get(job) ?? [];
    for (let i = names.length - 1; i >= 0; i--) {
      const p = this.s.objects.pods.get(names[i]!);
      if (p) return structuredClone(p);
    }
    let newest: KObj | undefined;
    for (const p of this.s.objects.pods.values()) {
      if (p.metadata.labels?.["batch.kubernetes.io/job-name"] === job) newest = p;
    }
    return newest ? structuredClone(newest) : undefined;
  }

  private podName(job: string): string {
    const p = this.pod(job);
    if (!p) throw new Error(`stand-in kubelet: Job ${job} has no pod`);
    return p.metadata.name;
  }

  /** The job controller creates the Job's pod (done automatically on create unless autoPod is off). */
  createPod(job: string): string {
    const j = this.s.objects.jobs.get(job);
    if (!j) throw new Error(`stand-in: no Job ${job}`);
    const suffix = randomUUID().replace(/-/g, "").slice(0, 5);
    const name = `${job}-${suffix}`.slice(0, 63);
    const tpl = j.spec.template;
    const pod: KObj = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace: this.s.namespace,
        uid: randomUUID(),
        creationTimestamp: kubeTime(),
        labels: { ...(tpl.metadata?.labels ?? {}) },
        ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: job, uid: j.metadata.uid, controller: true, blockOwnerDeletion: true }],
      },
      spec: clone(tpl.spec),
      status: { phase: "Pending", conditions: [] },
    };
    // Like the kubelet: a container whose env names a Secret that does not exist cannot be created.
    const missing = [...(tpl.spec.initContainers ?? []), ...tpl.spec.containers]
      .flatMap((c: KObj) => (c.env ?? []).map((e: KObj) => ({ container: c, secret: e.valueFrom?.secretKeyRef?.name as string | undefined })))
      .find((x: { secret?: string }) => x.secret && !this.s.objects.secrets.has(x.secret));
    if (missing) {
      const isInit = (tpl.spec.initContainers ?? []).includes(missing.container);
      const st = [{ name: missing.container.name, image: missing.container.image, ready: false, restartCount: 0, state: { waiting: { reason: "CreateContainerConfigError", message: `secret "${missing.secret}" not found` } } }];
      if (isInit) pod.status.initContainerStatuses = st;
      else pod.status.containerStatuses = st;
    }
    this.s.put("pods", pod, "ADDED");
    this.podsOf.set(job, [...(this.podsOf.get(job) ?? []), name]);
    this.s.modify("jobs", job, (o) => {
      o.status = { ...o.status, active: 1, startTime: o.status?.startTime ?? kubeTime() };
    });
    if (this.s.simulatePods && !missing) this.simulateStart(job, name, this.s.simulatePods.log?.(job) ?? "");
    return name;
  }

  /** A simulated pod starts as a real one does, one status update at a time (each a watch event). */
  private simulateStart(job: string, name: string, log: string): void {
    const alive = () => this.s.objects.pods.has(name);
    const step = (fn: () => void, next?: () => void) =>
      setImmediate(() => {
        if (!alive()) return;
        fn();
        next?.();
      });
    step(
      () => this.schedule(job),
      () =>
        step(
          () =>
            this.s.modify("pods", name, (o) => {
              const init = o.spec.initContainers ?? [];
              if (init.length) o.status.initContainerStatuses = init.map((c: KObj) => ({ name: c.name, image: c.image, ready: false, restartCount: 0, started: true, state: running(kubeTime()) }));
              o.status.containerStatuses = o.spec.containers.map((c: KObj) => ({ name: c.name, image: c.image, ready: false, restartCount: 0, started: false, state: { waiting: { reason: "PodInitializing" } } }));
            }),
          () => step(() => this.run(job, { log })),
        ),
    );
  }

  private modifyPod(job: string, change: (p: KObj) => void): void {
    this.s.modify("pods", this.podName(job), change);
  }

  schedule(job: string, node = "node-1"): void {
    this.modifyPod(job, (p) => {
      p.spec.nodeName = node;
      p.status.conditions = [{ type: "PodScheduled", status: "True", lastTransitionTime: kubeTime() }];
    });
  }

  unschedulable(job: string, message = "0/3 nodes are available: 3 Insufficient memory."): void {
    this.modifyPod(job, (p) => {
      p.status.conditions = [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message, lastTransitionTime: kubeTime() }];
    });
  }

  /** Scheduled, the image cannot be pulled: the container waits with `reason`. */
  imagePullError(job: string, reason = "ImagePullBackOff", container = "main", message?: string): void {
    this.schedule(job);
    this.modifyPod(job, (p) => {
      const image = [...(p.spec.initContainers ?? []), ...p.spec.containers].find((c: KObj) => c.name === container)?.image;
      const waiting = { waiting: { reason, message: message ?? `Back-off pulling image "${image}"` } };
      const isInit = (p.spec.initContainers ?? []).some((c: KObj) => c.name === container);
      const st = { name: container, image, imageID: "", ready: false, restartCount: 0, state: waiting };
      if (isInit) p.status.initContainerStatuses = [st];
      else p.status.containerStatuses = [st];
    });
  }

  /** Schedules the pod (if needed), runs the checkout init container to success and starts `main`. */
  run(job: string, opts: { log?: string; checkoutLog?: string } = {}): void {
    const p = this.pod(job);
    if (!p) throw new Error(`stand-in kubelet: Job ${job} has no pod`);
    if (!p.spec.nodeName) this.schedule(job);
    const started = kubeTime();
    const name = p.metadata.name;
    if (opts.log !== undefined) this.s.logs.set(`${name}/main`, opts.log);
    if (opts.checkoutLog !== undefined) this.s.logs.set(`${name}/checkout`, opts.checkoutLog);
    this.s.modify("pods", name, (o) => {
      if (o.spec.initContainers?.length) {
        o.status.initContainerStatuses = o.spec.initContainers.map((c: KObj) => ({ name: c.name, image: c.image, ready: true, restartCount: 0, state: terminated(0, "Completed", started) }));
      }
      o.status.phase = "Running";
      o.status.startTime = started;
      o.status.containerStatuses = [{ name: "main", image: o.spec.containers[0].image, ready: true, restartCount: 0, started: true, state: running(started) }];
    });
  }

  /** Appends to a running container's log. */
  log(job: string, text: string, container = "main"): void {
    const key = `${this.podName(job)}/${container}`;
    this.s.logs.set(key, (this.s.logs.get(key) ?? "") + text);
  }

  /** The checkout init container fails: the pod fails, the Job fails. */
  checkoutFails(job: string, exitCode = 1, log = "yaci: could not download\n", sync = true): void {
    const p = this.pod(job)!;
    if (!p.spec.nodeName) this.schedule(job);
    const started = kubeTime();
    this.s.logs.set(`${p.metadata.name}/checkout`, log);
    this.s.modify("pods", p.metadata.name, (o) => {
      o.status.phase = "Failed";
      o.status.initContainerStatuses = [{ name: "checkout", image: o.spec.initContainers[0].image, ready: false, restartCount: 0, state: terminated(exitCode, "Error", started, log.trim()) }];
      o.status.containerStatuses = [{ name: "main", image: o.spec.containers[0].image, ready: false, restartCount: 0, state: { waiting: { reason: "PodInitializing" } } }];
    });
    if (sync) this.syncJob(job);
  }

  /** The main container exits: the pod Succeeds or Fails; then the job controller updates the Job. */
  exit(job: string, exitCode: number, opts: { reason?: string; log?: string; sync?: boolean } = {}): void {
    const p = this.pod(job);
    if (!p) throw new Error(`stand-in kubelet: Job ${job} has no pod`);
    if (!p.status.containerStatuses?.some((c: KObj) => c.state?.running)) this.run(job);
    if (opts.log !== undefined) this.s.logs.set(`${p.metadata.name}/main`, opts.log);
    const reason = opts.reason ?? (exitCode === 0 ? "Completed" : "Error");
    this.modifyPod(job, (o) => {
      const st = o.status.containerStatuses[0];
      const startedAt = st.state?.running?.startedAt ?? kubeTime();
      st.state = terminated(exitCode, reason, startedAt);
      st.ready = false;
      o.status.phase = exitCode === 0 ? "Succeeded" : "Failed";
    });
    if (opts.sync !== false) this.syncJob(job);
  }

  succeed(job: string, log = ""): void {
    this.exit(job, 0, { log });
  }

  fail(job: string, exitCode: number, log = ""): void {
    this.exit(job, exitCode, { log });
  }

  /**
   * The main container's environment as the kubelet builds it: `value`s, and `secretKeyRef`s
   * read from the stored Secrets (a missing Secret or key throws, as the kubelet refuses it).
   */
  containerEnv(job: string, container = "main"): Record<string, string> {
    const p = this.pod(job);
    if (!p) throw new Error(`stand-in kubelet: Job ${job} has no pod`);
    const c = [...(p.spec.initContainers ?? []), ...p.spec.containers].find((x: KObj) => x.name === container);
    const env: Record<string, string> = {};
    for (const e of (c?.env ?? []) as KObj[]) {
      const ref = e.valueFrom?.secretKeyRef;
      if (!ref) {
        env[e.name] = e.value ?? "";
        continue;
      }
      const data = this.s.objects.secrets.get(ref.name)?.data?.[ref.key];
      if (data === undefined) throw new Error(`stand-in kubelet: secret "${ref.name}" has no key ${ref.key}`);
      env[e.name] = Buffer.from(data, "base64").toString("utf8");
    }
    return env;
  }

  /**
   * Really runs the main container's command on this machine (`sh -ec SCRIPT`), with the
   * environment `containerEnv` builds (secrets included), its output appended to the log as it
   * comes; then the container exits with the command's code. Resolves with that code.
   */
  async execute(job: string): Promise<number> {
    const p = this.pod(job);
    if (!p) throw new Error(`stand-in kubelet: Job ${job} has no pod`);
    const env = this.containerEnv(job);
    const [cmd, ...args] = p.spec.containers[0].command as string[];
    this.run(job, { log: "" });
    const { spawn } = await import("node:child_process");
    const child = spawn(cmd!, args, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.setEncoding("utf8").on("data", (d: string) => this.log(job, d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => this.log(job, d));
    const code = await new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? 1)));
    this.exit(job, code);
    return code;
  }

  oomKill(job: string, log = ""): void {
    this.exit(job, 137, { reason: "OOMKilled", log });
  }

  /** Node-pressure eviction by the kubelet: the pod Fails with reason Evicted (and stays). */
  evict(job: string, message = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 42Mi."): void {
    this.modifyPod(job, (o) => {
      const st = o.status.containerStatuses?.[0];
      if (st) st.state = terminated(137, "ContainerStatusUnknown", st.state?.running?.startedAt ?? kubeTime(), "The container could not be located when the pod was terminated");
      o.status.phase = "Failed";
      o.status.reason = "Evicted";
      o.status.message = message;
    });
    this.syncJob(job);
  }

  /** Someone deletes the pod (`kubectl delete pod`): it disappears; the Job counts it failed. */
  deletePod(job: string, sync = true): void {
    this.s.deleteObject("pods", this.podName(job));
    if (sync) this.syncJob(job, { podDeleted: true });
  }

  /**
   * The Job passes its activeDeadlineSeconds: the controller marks it (FailureTarget, as
   * Kubernetes ≥ 1.31 does), terminates the pod (deletionTimestamp), and after `graceMs` the
   * pod is gone and the Job Failed with reason DeadlineExceeded.
   */
  async deadlineExceeded(job: string, graceMs = 300): Promise<void> {
    const message = "Job was active longer than specified deadline";
    this.s.modify("jobs", job, (o) => {
      o.status.conditions = [...(o.status.conditions ?? []), { type: "FailureTarget", status: "True", reason: "DeadlineExceeded", message, lastTransitionTime: kubeTime() }];
    });
    const p = this.pod(job);
    if (p) this.modifyPod(job, (o) => (o.metadata.deletionTimestamp = kubeTime()));
    await new Promise((r) => setTimeout(r, graceMs));
    if (p) this.s.deleteObject("pods", p.metadata.name);
    this.s.modify("jobs", job, (o) => {
      o.status.active = 0;
      o.status.failed = 1;
      o.status.conditions = [...o.status.conditions, { type: "Failed", status: "True", reason: "DeadlineExceeded", message, lastTransitionTime: kubeTime() }];
    });
  }

  /** The job controller: derives the Job's status and conditions from its pod. */
  syncJob(job: string, opts: { podDeleted?: boolean } = {}): void {
    const p = this.pod(job);
    const phase = opts.podDeleted ? "Failed" : p?.status?.phase;
    const now = kubeTime();
    if (phase === "Succeeded") {
      this.s.modify("jobs", job, (o) => {
        o.status = { ...o.status, active: 0, succeeded: 1, completionTime: now, conditions: [{ type: "Complete", status: "True", lastTransitionTime: now }] };
      });
    } else if (phase === "Failed") {
      this.s.modify("jobs", job, (o) => {
        o.status = {
          ...o.status,
          active: 0,
          failed: 1,
          conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit", lastTransitionTime: now }],
        };
      });
    }
  }
}
