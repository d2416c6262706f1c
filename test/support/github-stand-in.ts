import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { validateRequest } from "./openapi.js";
import { DOCS, GitHubState, notFound, type Reply, type Route, type RouteContext, type StandInOptions } from "./github-stand-in-state.js";
import { authenticate, checkScope, type AuthResult } from "./github-stand-in-auth.js";
import { repoRoutes } from "./github-stand-in-repos.js";
import { checkRoutes } from "./github-stand-in-checks.js";
import { appRoutes } from "./github-stand-in-app.js";

export * from "./github-stand-in-state.js";

/**
 * A GitHub stand-in for end-to-end tests: a real HTTP server on loopback that serves the
 * REST API subset YACI uses under `/api/v3` (what a Probot app started with
 * `GHE_HOST=127.0.0.1:PORT GHE_PROTOCOL=http` calls), validates request bodies against
 * GitHub's OpenAPI description plus the limits the API enforces, records every request,
 * and can inject faults (5xx, secondary rate limits: one by one, or seeded at random with `chaos()`).
 */
export async function startGitHubStandIn(opts: StandInOptions = {}): Promise<GitHubStandIn> {
  const standIn = new GitHubStandIn(opts);
  await standIn.listen();
  return standIn;
}

interface CompiledRoute extends Route {
  regex: RegExp;
  names: string[];
}

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const source = route.pattern.replace(/[:*](\w+)/g, (m, name: string) => {
    names.push(name);
    return m.startsWith("*") ? "(.*)" : "([^/]+)";
  });
  return { ...route, regex: new RegExp(`^${source}/?$`), names };
}

export class GitHubStandIn extends GitHubState {
  private server: Server | undefined;
  private routes: CompiledRoute[];

  constructor(opts: StandInOptions = {}) {
    super(opts);
    this.routes = [...appRoutes(), ...repoRoutes(), ...checkRoutes()].map(compile);
  }

  /** "127.0.0.1:PORT", for `GHE_HOST`. */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }
  /** `http://127.0.0.1:PORT` */
  override get origin(): string {
    return `http://${this.host}`;
  }
  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async listen(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.errors.push(err);
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ message: `stand-in error: ${String(err)}` }));
      });
    });
    server.keepAliveTimeout = 1000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.origin);
    const method = (req.method ?? "GET").toUpperCase();
    const inApi = url.pathname === "/api/v3" || url.pathname.startsWith("/api/v3/");
    const path = inApi ? url.pathname.slice("/api/v3".length) || "/" : url.pathname;
    const rawBody = await readBody(req);
    let body: unknown;
    let badJson = false;
    if (rawBody.length > 0) {
      try {
        body = JSON.parse(rawBody.toString("utf8"));
      } catch {
        body = rawBody.toString("utf8");
        badJson = true;
      }
    }
    const record = this.recordRequest({ method, path, url: url.pathname + url.search, query: Object.fromEntries(url.searchParams), headers: req.headers, body });
    const reply = await this.dispatch(method, path, inApi, url.searchParams, req.headers, body, badJson, record);
    record.status = reply.status;
    const auth = record.auth;
    const headers: Record<string, string> = {
      "x-github-request-id": `STANDIN:${record.index}`,
      "x-github-media-type": "github.v3; format=json",
      ...this.rateLimitHeaders(auth),
      ...reply.headers,
    };
    if (reply.raw !== undefined) {
      res.writeHead(reply.status, { "content-type": "application/octet-stream", ...headers });
      res.end(reply.raw);
    } else if (reply.body === undefined || reply.status === 204 || reply.status === 304) {
      res.writeHead(reply.status, headers);
      res.end();
    } else {
      res.writeHead(reply.status, { "content-type": "application/json; charset=utf-8", ...headers });
      res.end(JSON.stringify(reply.body));
    }
  }

  private async dispatch(
    method: string,
    path: string,
    inApi: boolean,
    query: URLSearchParams,
    headers: IncomingHttpHeaders,
    body: unknown,
    badJson: boolean,
    record: ReturnType<GitHubState["recordRequest"]>,
  ): Promise<Reply> {
    await this.waitForHolds(method, path);
    const fault = this.takeFault(method, path) ?? (inApi ? this.chaosFault(method, path) : undefined);
    if (fault) {
      record.faulted = true;
      return { status: fault.status, headers: fault.headers, body: fault.body ?? { message: `injected ${fault.status}` } };
    }
    let params: Record<string, string> = {};
    const route = this.routes.find((r) => {
      if (r.method !== method || Boolean(r.outsideApi) === inApi) return false;
      const m = r.regex.exec(path);
      if (!m) return false;
      params = Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1] ?? "")]));
      return true;
    });
    if (!route) {
      this.unhandled.push(record);
      return notFound();
    }
    const auth: AuthResult = authenticate(this, route.auth, headers.authorization);
    record.auth = auth.kind === "token" ? auth.token.token : auth.kind === "jwt" ? "jwt" : "anonymous";
    record.token = auth.kind === "token" ? auth.token : undefined;
    if (auth.kind === "error") return auth.reply;
    const token = auth.kind === "token" ? auth.token : undefined;
    if (token) {
      const denied = checkScope(this, token, params, route.permission);
      if (denied) return denied;
    }
    const ctx: RouteContext = {
      method,
      path,
      params,
      query,
      headers,
      body,
      token,
      standIn: this,
      invalid: (errors) => this.invalid(method, path, body, errors),
    };
    if (badJson) return { status: 400, body: { message: "Problems parsing JSON", documentation_url: DOCS } };
    if (inApi && body !== undefined) {
      const errors = validateRequest(method, path, body);
      if (errors.length > 0) return ctx.invalid(errors);
    }
    return route.handler(ctx);
  }

  private invalid(method: string, path: string, body: unknown, errors: string[]): Reply {
    this.violations.push({ method, path, body, errors, time: new Date() });
    return {
      status: 422,
      body: { message: `Invalid request.\n\n${errors.join("\n")}`, errors, documentation_url: DOCS, status: "422" },
    };
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
