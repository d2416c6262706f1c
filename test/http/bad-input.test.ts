import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signRunLink } from "../../src/http/access.js";
import { API_TOKEN, LINK_SECRET, startHarness, type Harness } from "./harness.js";

/**
 * The HTTP part of the bad-input corpus: hostile requests to /run, /get, /runs/… and /metrics.
 * Each is answered with a 4xx and a message (JSON; HTML for the run page's own refusals), nothing
 * runs, and the server answers the next valid request as before.
 */

const METRICS_TOKEN = "metrics-token-0123456789abcdef0123456789";
const RUN = "yaci-known-run-1";
const auth = { authorization: `Bearer ${API_TOKEN}` };
const json = { ...auth, "content-type": "application/json" };
const form = { ...auth, "content-type": "application/x-www-form-urlencoded" };

interface Case {
  name: string;
  method?: string;
  /** The path and query; `{token}` is replaced by a valid link token for RUN. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer | (() => ReadableStream<Uint8Array>);
  status: number;
  /** The answer is an HTML page (the run page's 403) rather than JSON. */
  html?: boolean;
  message?: RegExp;
}

/** A chunked body (no Content-Length) of `bytes` bytes. */
const chunked = (bytes: number) => () =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (let sent = 0; sent < bytes; sent += 16_384) c.enqueue(new Uint8Array(16_384).fill(0x79));
      c.close();
    },
  });

const deepJson = "[".repeat(20_000) + "]".repeat(20_000);

const CASES: Case[] = [
  // POST /run: bad JSON
  { name: "truncated JSON", method: "POST", path: "/run", headers: json, body: '{"command": "echo', status: 400, message: /not valid JSON/ },
  { name: "a lone brace", method: "POST", path: "/run", headers: json, body: "{", status: 400, message: /not valid JSON/ },
  { name: "JSON null", method: "POST", path: "/run", headers: json, body: "null", status: 400, message: /JSON object/ },
  { name: "JSON string", method: "POST", path: "/run", headers: json, body: '"echo hi"', status: 400, message: /JSON object/ },
  { name: "JSON array", method: "POST", path: "/run", headers: json, body: '["echo", "hi"]', status: 400, message: /JSON object/ },
  { name: "20,000-deep nesting", method: "POST", path: "/run", headers: json, body: deepJson, status: 400, message: /JSON object/ },
  { name: "command is an array", method: "POST", path: "/run", headers: json, body: '{"command": ["echo"]}', status: 400, message: /must be a string/ },
  { name: "command is an object", method: "POST", path: "/run", headers: json, body: '{"command": {"$ne": ""}}', status: 400, message: /must be a string/ },
  { name: "image is a number", method: "POST", path: "/run", headers: json, body: '{"command": "true", "image": 42}', status: 400, message: /must be a string/ },
  { name: "duplicate keys, the last empty", method: "POST", path: "/run", headers: json, body: '{"command": "true", "command": " "}', status: 400, message: /command is empty/ },
  { name: "__proto__ smuggling", method: "POST", path: "/run", headers: json, body: '{"__proto__": {"command": "id"}}', status: 400, message: /command is empty/ },
  { name: "BOM before JSON", method: "POST", path: "/run", headers: json, body: '\ufeff{"command": "true"}', status: 400, message: /not valid JSON/ },
  { name: "+json type, bad body", method: "POST", path: "/run", headers: { ...auth, "content-type": "application/vnd.api+json" }, body: "{oops}", status: 400, message: /not valid JSON/ },
  // POST /run: NUL, sizes, images
  { name: "NUL in a JSON command", method: "POST", path: "/run", headers: json, body: '{"command": "echo \\u0000"}', status: 400, message: /NUL/ },
  { name: "NUL in a raw command", method: "POST", path: "/run", headers: form, body: Buffer.from("echo a\0b"), status: 400, message: /NUL/ },
  { name: "empty body", method: "POST", path: "/run", headers: form, body: "", status: 400, message: /command is empty/ },
  { name: "1 MiB body (declared)", method: "POST", path: "/run", headers: form, body: "x".repeat(1 << 20), status: 413, message: /larger than 65536 bytes/ },
  { name: "200 KiB chunked body", method: "POST", path: "/run", headers: form, body: chunked(200 * 1024), status: 413, message: /larger than 65536 bytes/ },
  { name: "image path traversal", method: "POST", path: "/run", headers: json, body: '{"command": "true", "image": "../../etc/passwd"}', status: 400, message: /not a valid image/ },
  { name: "image with a newline", method: "POST", path: "/run", headers: json, body: '{"command": "true", "image": "alpine\\nFROM evil"}', status: 400, message: /not a valid image/ },
  { name: "image of 10,000 characters", method: "POST", path: "/run", headers: json, body: JSON.stringify({ command: "true", image: "a".repeat(10_000) }), status: 400, message: /at most 255/ },
  { name: "unicode image", method: "POST", path: "/run", headers: json, body: '{"command": "true", "image": "аlpine"}', status: 400, message: /not a valid image/ },
  { name: "wrong method on /run", method: "GET", path: "/run", headers: auth, status: 405, message: /use POST/ },
  // Tokens
  { name: "no token", method: "POST", path: "/run", body: "echo hi", status: 401, message: /missing bearer token/ },
  { name: "10 KB token", path: "/get?id=x", headers: { authorization: `Bearer ${"a".repeat(10_000)}` }, status: 401 },
  { name: "two tokens in one header", path: "/get?id=x", headers: { authorization: `Bearer ${API_TOKEN} ${API_TOKEN}` }, status: 401 },
  { name: "latin-1 token", path: "/get?id=x", headers: { authorization: "Bearer t\u00f6k\u00e9n" }, status: 401 },
  { name: "token as Basic", path: "/get?id=x", headers: { authorization: `Basic ${API_TOKEN}` }, status: 401 },
  // GET /get: ids
  { name: "path traversal id", path: `/get?id=${encodeURIComponent("../../etc/passwd")}`, headers: auth, status: 404, message: /no run with id/ },
  { name: "overlong id", path: `/get?id=${"a".repeat(5000)}`, headers: auth, status: 404, message: /no run with id/ },
  { name: "NUL id", path: "/get?id=%00", headers: auth, status: 404, message: /no run with id/ },
  { name: "right-to-left override id", path: "/get?id=%E2%80%AEnur", headers: auth, status: 404, message: /no run with id/ },
  { name: "broken percent-encoding", path: "/get?id=%ZZ%", headers: auth, status: 404, message: /no run with id/ },
  { name: "repeated id, the first empty", path: `/get?id=&id=${RUN}`, headers: auth, status: 400, message: /id query param is required/ },
  { name: "wrong method on /get", method: "POST", path: "/get?id=x", headers: auth, status: 405 },
  // Run pages
  { name: "run page: traversal id", path: "/runs/..%2F..%2Fetc%2Fpasswd?token={token}", status: 403, html: true },
  { name: "run page: overlong id", path: `/runs/${"a".repeat(300)}?token={token}`, status: 403, html: true },
  { name: "run page: unicode id", path: "/runs/%F0%9F%98%80?token={token}", status: 403, html: true },
  { name: "run page: broken percent-encoding", path: "/runs/%E0%A4%A", status: 404, message: /not found/ },
  { name: "run page: repeated token, the first bad", path: `/runs/${RUN}?token=v1.1.x&token={token}`, status: 403, html: true },
  { name: "run page: 5,000-character token", path: `/runs/${RUN}?token=${"v".repeat(5000)}`, status: 403, html: true },
  { name: "run page: another run's token", path: `/runs/yaci-other-run?token={token}`, status: 403, html: true },
  { name: "events: bad token", path: `/runs/${RUN}/events?token=v1.99999999999.${"A".repeat(43)}`, status: 403, message: /invalid or has expired/ },
  { name: "full log: no token", path: `/runs/${RUN}/log`, status: 403, html: true },
  { name: "run page: wrong method", method: "DELETE", path: `/runs/${RUN}?token={token}`, status: 405 },
  // Metrics
  { name: "metrics: no token", path: "/metrics", status: 401, message: /YACI_METRICS_TOKEN/ },
  { name: "metrics: the API token", path: "/metrics", headers: auth, status: 401, message: /invalid bearer token/ },
  { name: "metrics: wrong method", method: "POST", path: "/metrics", status: 405 },
];

let h: Harness;
let linkToken: string;
beforeAll(async () => {
  h = await startHarness({ env: { metricsToken: METRICS_TOKEN } });
  h.runner.create(RUN, { phase: "completed", conclusion: "success", exitCode: 0 });
  await h.logs.write(RUN, "the known log\n");
  linkToken = signRunLink(RUN, LINK_SECRET, new Date(h.clock.now.getTime() + 365 * 86_400_000));
});
afterAll(async () => {
  await h?.close();
});

async function send(c: Case): Promise<Response> {
  const body = typeof c.body === "function" ? c.body() : c.body;
  return fetch(`${h.url}${c.path.replace("{token}", linkToken)}`, {
    method: c.method ?? "GET",
    headers: c.headers,
    body,
    ...(typeof c.body === "function" && { duplex: "half" }),
  } as RequestInit);
}

describe("the HTTP bad-input corpus", () => {
  it("has at least 30 hostile requests", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
  });

  it.each(CASES)("$name → $status with a message; the next valid request is served", async (c) => {
    // Failed authentications are rate-limited per address: a minute passes between cases.
    h.clock.now = new Date(h.clock.now.getTime() + 61_000);
    const res = await send(c);
    expect(res.status).toBe(c.status);
    const text = await res.text();
    if (c.html) {
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(text).toContain("This link is invalid or has expired");
    } else {
      expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
      const parsed = JSON.parse(text) as { message: unknown };
      expect(Object.keys(parsed)).toEqual(["message"]);
      expect(typeof parsed.message).toBe("string");
      if (c.message) expect(parsed.message).toMatch(c.message);
    }
    expect(text).not.toContain("the known log");
    expect(h.runner.submitted).toEqual([]);

    const next = await fetch(`${h.url}/get?id=${RUN}`, { headers: auth });
    expect(next.status).toBe(200);
    expect(await next.json()).toEqual([{ pod: RUN, status: "Succeeded", log: "the known log\n" }]);
  });
});
