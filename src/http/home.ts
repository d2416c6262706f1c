import type { ServerResponse } from "node:http";
import { escapeHtml } from "./escape-html.js";

/** GET /: says the app is up and where its parts are, for a person who opens the app's URL. */
export function handleHome(res: ServerResponse, about: { executor: string; version: string }): void {
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>YACI</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:42em;margin:3em auto;padding:0 1em;color:#1f2328}code{background:#f6f8fa;padding:.1em .3em;border-radius:4px}</style></head>
<body><h1>YACI is running</h1>
<p>Yet Another CI ${escapeHtml(about.version)}: jobs run on the <strong>${escapeHtml(about.executor)}</strong> executor.
Push to a repository where the GitHub App is installed and has a <code>.yaci.yml</code>: its check runs appear on the commit.</p>
<ul><li>Webhooks: <code>POST /api/github/webhooks</code></li>
<li>Health: <a href="/healthz"><code>/healthz</code></a>, <a href="/readyz"><code>/readyz</code></a>; metrics: <a href="/metrics"><code>/metrics</code></a></li>
<li>The original API: <code>POST /run</code>, <code>GET /get?id=…</code> (with <code>YACI_API_TOKEN</code>)</li></ul>
</body></html>`;
  res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(body) }).end(body);
}
