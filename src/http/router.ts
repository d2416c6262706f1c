import type { IncomingMessage, ServerResponse } from "node:http";
import { handleHealthz, handleReadyz } from "./health.js";
import { handleHome } from "./home.js";
import type { HttpDeps } from "./http-deps.js";
import { handleMetrics } from "./metrics-route.js";
import { sendError } from "./respond.js";
import { handleRunEvents } from "./run-events.js";
import { handleRunPage } from "./run-page.js";
import { handleGet, handleRun } from "./seed-api.js";

export type { HttpDeps } from "./http-deps.js";

/** A plain Node handler: true when it answered the request (Probot's `addHandler` contract). */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

interface Route {
  /** Label for metrics and logs. */
  name: string;
  pattern: RegExp;
  methods: readonly string[];
  handle(deps: HttpDeps, req: IncomingMessage, res: ServerResponse, url: URL, params: string[]): Promise<void> | void;
}

const ROUTES: Route[] = [
  { name: "/", pattern: /^\/$/, methods: ["GET", "HEAD"], handle: (d, _req, res) => handleHome(res, d.about ?? { executor: "?", version: "" }) },
  { name: "/run", pattern: /^\/run$/, methods: ["POST"], handle: (d, req, res) => handleRun(d, req, res) },
  { name: "/get", pattern: /^\/get$/, methods: ["GET"], handle: (d, req, res, url) => handleGet(d, req, res, url) },
  {
    name: "/runs/:id",
    pattern: /^\/runs\/([^/]+)$/,
    methods: ["GET"],
    handle: (d, _req, res, url, [id]) => handleRunPage(d, res, id!, url),
  },
  {
    name: "/runs/:id/events",
    pattern: /^\/runs\/([^/]+)\/events$/,
    methods: ["GET"],
    handle: (d, req, res, url, [id]) => handleRunEvents(d, req, res, id!, url),
  },
  { name: "/healthz", pattern: /^\/healthz$/, methods: ["GET", "HEAD"], handle: (_d, _req, res) => handleHealthz(res) },
  { name: "/readyz", pattern: /^\/readyz$/, methods: ["GET", "HEAD"], handle: (d, _req, res) => handleReadyz(d, res) },
  { name: "/metrics", pattern: /^\/metrics$/, methods: ["GET"], handle: (d, _req, res) => handleMetrics(d.metrics, res) },
];

function decode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

/**
 * YACI's own HTTP routes (the seed API, the run page, health, metrics) as one handler for Probot's
 * `addHandler`, next to the webhook route on the same server. Returns false for any other path.
 */
export function createHttpHandler(deps: HttpDeps): HttpHandler {
  return async (req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://localhost");
    } catch {
      return false;
    }
    for (const route of ROUTES) {
      const m = route.pattern.exec(url.pathname);
      if (!m) continue;
      const params = m.slice(1).map(decode);
      res.once("finish", () => deps.metrics.httpRequest(route.name, res.statusCode));
      if (params.some((p) => p === undefined)) {
        sendError(res, 404, "not found");
        return true;
      }
      const method = req.method ?? "GET";
      if (!route.methods.includes(method)) {
        sendError(res, 405, `method ${method} is not allowed on ${route.name}; use ${route.methods.join(" or ")}`, {
          allow: route.methods.join(", "),
        });
        return true;
      }
      try {
        await route.handle(deps, req, res, url, params as string[]);
      } catch (err) {
        deps.log?.error({ err, route: route.name }, "HTTP handler failed");
        if (!res.headersSent) sendError(res, 500, "internal error");
        else res.destroy();
      }
      return true;
    }
    return false;
  };
}
