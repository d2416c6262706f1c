import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { AuthFailureLimiter } from "../../src/http/access.js";
import { signRunLink } from "../../src/http/access.js";
import { API_TOKEN, LINK_SECRET, startHarness, type Harness } from "./harness.js";

/**
 * Failed authentication (401 on the API and /metrics, 403 on run pages) is limited per client
 * address: 10 failures a minute, then 429 with Retry-After. The harness clock drives time.
 */

const METRICS_TOKEN = "metrics-token-0123456789abcdef0123456789";
const auth = { authorization: `Bearer ${API_TOKEN}` };

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function advance(h: Harness, ms: number): void {
  h.clock.now = new Date(h.clock.now.getTime() + ms);
}

/** A GET from a chosen loopback address (127.0.0.2, …), so the server sees another client. */
function getFrom(localAddress: string, url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function expect429(res: Response, retryAfter: number): Promise<void> {
  expect(res.status).toBe(429);
  expect(res.headers.get("retry-after")).toBe(String(retryAfter));
  expect(await res.json()).toEqual({
    message: `too many failed authentication attempts from your address: retry in ${retryAfter} s`,
  });
}

describe("failed authentication is rate-limited per client address", () => {
  it("API: 10 wrong tokens a minute, then 429 with Retry-After (even for the right token) until the window passes", async () => {
    h = await startHarness();
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${h.url}/get?id=x`, { headers: { authorization: `Bearer guess-${i}` } });
      expect(res.status, `guess ${i}`).toBe(401);
      advance(h, 1000); // one guess a second
    }
    // The 11th request is refused without looking at its token.
    await expect429(await fetch(`${h.url}/get?id=x`, { headers: { authorization: "Bearer guess-10" } }), 50);
    await expect429(await fetch(`${h.url}/run`, { method: "POST", headers: auth, body: "echo hi" }), 50);
    expect(h.runner.submitted).toEqual([]);
    // Retry-After counts down with the clock: the oldest failure leaves the window first.
    advance(h, 49_000);
    await expect429(await fetch(`${h.url}/get?id=x`, { headers: auth }), 1);
    advance(h, 1000);
    const res = await fetch(`${h.url}/run`, { method: "POST", headers: auth, body: "echo hi" });
    expect(res.status).toBe(200);
    // One slot freed: one more failure fills the window again.
    expect((await fetch(`${h.url}/get?id=x`, { headers: { authorization: "Bearer again" } })).status).toBe(401);
    expect((await fetch(`${h.url}/get?id=x`, { headers: auth })).status).toBe(429);
  });

  it("another address is not affected", async () => {
    h = await startHarness();
    for (let i = 0; i < 10; i++) await fetch(`${h.url}/get?id=x`, { headers: { authorization: "Bearer nope" } });
    expect((await fetch(`${h.url}/get?id=x`, { headers: auth })).status).toBe(429);
    const other = await getFrom("127.0.0.2", `${h.url}/get?id=yaci-nope`, auth);
    expect(other.status).toBe(404); // authenticated, and told the run does not exist
    const blocked = await getFrom("127.0.0.1", `${h.url}/get?id=yaci-nope`, auth);
    expect(blocked.status).toBe(429);
  });

  it("/metrics (with YACI_METRICS_TOKEN) and run pages count and refuse too; failures add up across routes", async () => {
    h = await startHarness({ env: { metricsToken: METRICS_TOKEN } });
    const id = "yaci-limited-1";
    h.runner.create(id, { phase: "completed", conclusion: "success" });
    await h.logs.write(id, "the log\n");
    const good = signRunLink(id, LINK_SECRET, new Date(h.clock.now.getTime() + 3_600_000));
    const forged = signRunLink(id, "not-the-secret-0123456789abcdef!!", new Date(h.clock.now.getTime() + 3_600_000));
    const failures = [
      () => fetch(`${h!.url}/metrics`),
      () => fetch(`${h!.url}/metrics`, { headers: { authorization: "Bearer wrong" } }),
      () => fetch(`${h!.url}/runs/${id}?token=${forged}`),
      () => fetch(`${h!.url}/runs/${id}/events?token=${forged}`),
      () => fetch(`${h!.url}/runs/${id}/log?token=${forged}`),
      () => fetch(`${h!.url}/runs/${id}`),
      () => fetch(`${h!.url}/runs/..%2F..%2Fetc%2Fpasswd?token=${forged}`),
      () => fetch(`${h!.url}/run`, { method: "POST", body: "echo hi" }),
      () => fetch(`${h!.url}/get?id=${id}`, { headers: { authorization: "Bearer x" } }),
      () => fetch(`${h!.url}/metrics`, { headers: auth }), // the API token is not the metrics token
    ];
    for (const [i, f] of failures.entries()) {
      const res = await f();
      expect([401, 403], `failure ${i}`).toContain(res.status);
      await res.arrayBuffer();
    }
    // Now every guarded route refuses, even with valid credentials…
    await expect429(await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } }), 60);
    const page = await fetch(`${h.url}/runs/${id}?token=${good}`);
    await expect429(page, 60);
    expect(page.headers.get("x-robots-tag")).toMatch(/noindex/);
    await expect429(await fetch(`${h.url}/runs/${id}/events?token=${good}`), 60);
    // …while the unguarded ones still answer.
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${h.url}/`)).status).toBe(200);
    advance(h, 60_000);
    expect((await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(200);
    const ok = await fetch(`${h.url}/runs/${id}?token=${good}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("the log");
  });

  it("a burst of concurrent guesses is cut off at the limit", async () => {
    h = await startHarness();
    const statuses = await Promise.all(
      Array.from({ length: 30 }, (_, i) => fetch(`${h!.url}/get?id=x`, { headers: { authorization: `Bearer g${i}` } }).then((r) => r.status)),
    );
    expect(statuses.filter((s) => s === 401).length).toBe(10);
    expect(statuses.filter((s) => s === 429).length).toBe(20);
  });

  it("successes, 404s and bad requests do not count", async () => {
    h = await startHarness();
    for (let i = 0; i < 30; i++) {
      expect((await fetch(`${h.url}/get?id=yaci-missing`, { headers: auth })).status).toBe(404);
      expect((await fetch(`${h.url}/get`, { headers: auth })).status).toBe(400);
    }
    expect((await fetch(`${h.url}/get?id=x`, { headers: { authorization: "Bearer nope" } })).status).toBe(401);
  });
});

describe("AuthFailureLimiter", () => {
  it("forgets the least recently failing addresses beyond its capacity", () => {
    let now = 0;
    const limiter = new AuthFailureLimiter({ now: () => now, maxFailures: 2, windowMs: 1000, maxAddresses: 3 });
    for (const a of ["a", "a", "b", "b", "c", "c"]) limiter.fail(a);
    expect(["a", "b", "c"].map((a) => limiter.retryAfterMs(a))).toEqual([1000, 1000, 1000]);
    limiter.fail("d"); // "a" is forgotten
    expect(limiter.retryAfterMs("a")).toBe(0);
    expect(limiter.retryAfterMs("b")).toBe(1000);
    now = 1000;
    expect(limiter.retryAfterMs("b")).toBe(0);
  });
});
