import type { IncomingMessage, ServerResponse } from "node:http";
import type { Metrics } from "../observability/metrics.js";
import { handleGet, handleRun } from "./api.js";
import type { HttpDeps } from "./env.js";
import { AuthFailureLimiter, checkBearer, clientAddress, SECURITY_HEADERS, sendTooManyFailures } from "./access.js";
import { escapeHtml, sendError, sendHtml, sendJson } from "./respond.js";
import { handleRunEvents, handleRunLog, StreamSlots } from "./run-events.js";
import { handleRunPage } from "./run-page.js";

/**
 * The route table of YACI's own HTTP surface (`createHttpHandler`), and its small routes: the home
 * page, health and metrics. The API is in api.ts, the run page in run-page.ts.
 */

/** How long `/readyz` waits for the executor before answering "not ready". */
const READY_TIMEOUT_MS = 5000;

/** GET /: says the app is up and where its parts are, for a person who opens the app's URL (no version, no ids). */
function handleHome(res: ServerResponse, about: { executor: string }): void {
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>YACI</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:42em;margin:3em auto;padding:0 1em;color:#1f2328}code{background:#f6f8fa;padding:.1em .3em;border-radius:4px}</style></head>
<body><h1>YACI is running</h1>
<p>Yet Another CI: jobs run on the <strong>${escapeHtml(about.executor)}</strong> executor.
Push to a repository where the GitHub App is installed and has a <code>.yaci.yml</code>: its check runs appear on the commit.</p>
<ul><li>Webhooks: <code>POST /api/github/webhooks</code></li>
<li>Health: <a href="/healthz"><code>/healthz</code></a>, <a href="/readyz"><code>/readyz</code></a>; metrics: <a href="/metrics"><code>/metrics</code></a></li>
<li>The original API: <code>POST /run</code>, <code>GET /get?id=…</code> (with <code>YACI_API_TOKEN</code>)</li></ul>
</body></html>`;
  sendHtml(res, 200, body);
}

/** GET /healthz: the process is alive and serving HTTP. */
function handleHealthz(res: ServerResponse): void {
  sendJson(res, 200, { status: "ok" });
}

/** GET /readyz: the executor is reachable (for Kubernetes: the API server answers). 503 otherwise. */
async function handleReadyz(deps: HttpDeps, res: ServerResponse): Promise<void> {
  const timeoutMs = READY_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  let verdict: boolean | "timeout";
  let detail: string | undefined;
  try {
    verdict = await Promise.race([deps.ready(), timeout]);
  } catch (err) {
    verdict = false;
    detail = err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
  if (verdict === true) {
    sendJson(res, 200, { status: "ready" });
    return;
  }
  // The reason is for the operator's log only: the answer tells an anonymous caller nothing more.
  const reason =
    verdict === "timeout" ? `the executor did not answer within ${timeoutMs} ms` : `the executor is not reachable${detail ? ` (${detail})` : ""}`;
  deps.log?.warn({ detail }, `/readyz: not ready: ${reason}`);
  sendJson(res, 503, { message: "not ready" });
}

/** GET /metrics: every metric in the Prometheus text format (behind YACI_METRICS_TOKEN when set). */
async function handleMetrics(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const token = deps.env.metricsToken;
  if (token !== undefined && !checkBearer(req, res, token, "YACI_METRICS_TOKEN")) return;
  const metrics: Metrics = deps.metrics;
  const text = await metrics.text();
  res.writeHead(200, {
    "content-type": metrics.contentType,
    "content-length": String(Buffer.byteLength(text)),
    "cache-control": "no-store",
  });
  res.end(text);
}

/** A plain Node handler: true when it answered the request (Probot's `addHandler` contract). */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

interface Route {
  /** Label for metrics and logs. */
  name: string;
  /** Needs a credential: its 401/403 answers count as failed authentication, and 429 once over the limit. */
  guarded?: boolean;
  pattern: RegExp;
  methods: readonly string[];
  handle(deps: HttpDeps, req: IncomingMessage, res: ServerResponse, url: URL, params: string[], slots: StreamSlots): Promise<void> | void;
}

const ROUTES: Route[] = [
  { name: "/", pattern: /^\/$/, methods: ["GET", "HEAD"], handle: (d, _req, res) => handleHome(res, d.about ?? { executor: "?" }) },
  { name: "/run", guarded: true, pattern: /^\/run$/, methods: ["POST"], handle: (d, req, res) => handleRun(d, req, res) },
  { name: "/get", guarded: true, pattern: /^\/get$/, methods: ["GET"], handle: (d, req, res, url) => handleGet(d, req, res, url) },
  {
    name: "/runs/:id",
    guarded: true,
    pattern: /^\/runs\/([^/]+)$/,
    methods: ["GET"],
    handle: (d, _req, res, url, [id]) => handleRunPage(d, res, id!, url),
  },
  {
    name: "/runs/:id/events",
    guarded: true,
    pattern: /^\/runs\/([^/]+)\/events$/,
    methods: ["GET"],
    handle: (d, req, res, url, [id], slots) => handleRunEvents(d, req, res, id!, url, slots),
  },
  {
    name: "/runs/:id/log",
    guarded: true,
    pattern: /^\/runs\/([^/]+)\/log$/,
    methods: ["GET"],
    handle: (d, _req, res, url, [id], slots) => handleRunLog(d, res, id!, url, slots),
  },
  { name: "/healthz", pattern: /^\/healthz$/, methods: ["GET", "HEAD"], handle: (_d, _req, res) => handleHealthz(res) },
  { name: "/readyz", pattern: /^\/readyz$/, methods: ["GET", "HEAD"], handle: (d, _req, res) => handleReadyz(d, res) },
  { name: "/metrics", guarded: true, pattern: /^\/metrics$/, methods: ["GET"], handle: (d, req, res) => handleMetrics(d, req, res) },
];

function decode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

/**
 * YACI's own HTTP routes (the original API, the run page, health, metrics) as one handler for Probot's
 * `addHandler`, next to the webhook route on the same server. Returns false for any other path.
 */
export function createHttpHandler(deps: HttpDeps): HttpHandler {
  const limiter = new AuthFailureLimiter({ now: () => deps.now().getTime(), maxFailures: deps.maxAuthFailures ?? 10 });
  const slots = new StreamSlots(deps.streamLimits, (open) => deps.metrics.setOpenStreams(open));
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
      const address = clientAddress(req);
      if (route.guarded) {
        // Over the failure limit: refused without looking at the credential.
        const wait = limiter.retryAfterMs(address);
        if (wait > 0) {
          sendTooManyFailures(res, wait, route.name.startsWith("/runs/") ? SECURITY_HEADERS : {});
          return true;
        }
      }
      try {
        await route.handle(deps, req, res, url, params as string[], slots);
      } catch (err) {
        deps.log?.error({ err, route: route.name }, "HTTP handler failed");
        if (!res.headersSent) sendError(res, 500, "internal error");
        else res.destroy();
      }
      // Guarded routes answer 401/403 only for a missing or wrong credential (checked before any I/O,
      // so even a burst of concurrent guesses is counted before the next request is read).
      if (route.guarded && (res.statusCode === 401 || res.statusCode === 403)) {
        limiter.fail(address);
        const wait = limiter.retryAfterMs(address);
        if (wait > 0) deps.log?.warn({ address, route: route.name, retryAfterMs: wait }, "too many failed authentications: address refused for a while");
      }
      return true;
    }
    return false;
  };
}
