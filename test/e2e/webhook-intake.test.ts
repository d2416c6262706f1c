import { request } from "node:http";
import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandIn, waitFor, type GitHubStandIn } from "../support/github-stand-in.js";
import { e2eBudget, startApp, STEP_MS, type AppProcess } from "../support/app-process.js";
import { loadExample, sendWebhook, sign, withInstallation } from "../support/webhooks.js";

/**
 * Issue 10, items 3, 4 and 7, on the real app process: an unsigned 200 MB body costs no memory, a
 * missing or short WEBHOOK_SECRET stops the app from starting, and a signed body replayed under a
 * new delivery id runs nothing.
 */

let github: GitHubStandIn;
let app: AppProcess | undefined;

beforeAll(async () => {
  github = await startGitHubStandIn();
});
afterAll(async () => {
  await github.close();
});
afterEach(async () => {
  if (app) await app.stop();
  app?.removeDataDir();
  app = undefined;
});

/** The process's resident memory in MiB (`VmRSS`) and its peak so far (`VmHWM`), from /proc. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)![1]) / 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

/**
 * POSTs `mib` MiB of JSON-ish bytes, streamed in 1 MiB chunks with no Content-Length (chunked), as
 * fast as the app takes them. Resolves with the answer's status, or the error that ended it.
 */
function streamBody(url: string, mib: number, headers: Record<string, string>): Promise<{ status?: number; error?: string; sentMiB: number }> {
  return new Promise((resolve) => {
    const chunk = Buffer.alloc(1 << 20, 0x20);
    let sent = 0;
    let status: number | undefined;
    const req = request(url, { method: "POST", headers: { ...headers, "transfer-encoding": "chunked" } }, (res) => {
      status = res.statusCode;
      res.resume();
      res.on("end", () => resolve({ status, sentMiB: sent }));
    });
    req.on("error", (err) => resolve({ status, error: err.message, sentMiB: sent }));
    const pump = () => {
      while (sent < mib) {
        sent++;
        if (!req.write(chunk)) {
          req.once("drain", pump);
          return;
        }
      }
      req.end();
    };
    req.write("{");
    pump();
  });
}

function pushPayload(sha: string) {
  const p = withInstallation(loadExample("push", (x) => x.ref.startsWith("refs/heads/") && !x.deleted), 7373);
  p.after = sha;
  p.ref = `refs/heads/intake-${sha.slice(0, 6)}`;
  return p;
}

describe("the webhook endpoint under attack (end to end)", () => {
  // Step budgets: an app start, 200 MB sent over loopback, and the app's stop.
  it("a 200 MB body with a bad signature is refused (413) without the app's memory or log growing", { timeout: e2eBudget({ ...STEP_MS, send: 30_000 }) }, async () => {
    app = await startApp({ github, env: { YACI_CATCHUP_INTERVAL: "off" } });
    const before = memoryOf(app.pid);
    const logBytes = () => app!.logs().join("\n").length;
    const logBefore = logBytes();
    const headers = {
      "content-type": "application/json",
      "x-github-event": "push",
      "x-github-delivery": "huge-1",
      "x-hub-signature-256": sign("not this body", app.webhookSecret),
    };
    const result = await streamBody(app.webhookUrl, 200, headers);
    // The app answers 413 as soon as 25 MB have arrived, then drops the connection.
    expect(result.status ?? result.error).toBe(413);
    const after = memoryOf(app.pid);
    expect(after.peak).toBeLessThan(150);
    expect(after.peak - before.rss).toBeLessThan(60);
    // A few request lines, not the payload.
    expect(logBytes() - logBefore).toBeLessThan(20_000);
    // Declared too large up front: refused before a byte is read.
    const declared = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(app!.webhookUrl, { method: "POST", headers: { ...headers, "content-length": String(200 << 20) } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on("error", reject);
      req.flushHeaders();
    });
    expect(declared).toBe(413);
    // And the app still serves.
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
  });

  it("refuses to start with WEBHOOK_SECRET missing or short, or a short YACI_API_TOKEN / YACI_LINK_SECRET, saying which and why; the setup flow (no APP_ID) still starts", { timeout: 90_000 }, async () => {
    const fails = async (env: Record<string, string>) => {
      const err = await startApp({ github, env: { ...env, YACI_CATCHUP_INTERVAL: "off" }, readyTimeoutMs: 10_000 }).then(
        (a) => {
          app = a;
          return undefined;
        },
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(Error);
      return err!.message;
    };
    expect(await fails({ WEBHOOK_SECRET: "" })).toContain("yaci: cannot start: WEBHOOK_SECRET is not set");
    expect(await fails({ WEBHOOK_SECRET: "development" })).toContain("WEBHOOK_SECRET is 11 characters long; it must be at least 32");
    expect(await fails({ WEBHOOK_SECRET: "0123456789abcdef0123456789abcde" })).toContain("WEBHOOK_SECRET is 31 characters long");
    // The HTTP surface's secrets too (src/http/env.ts).
    expect(await fails({ YACI_API_TOKEN: "short-api-token" })).toContain("YACI_API_TOKEN is 15 characters long; it must be at least 32");
    expect(await fails({ YACI_LINK_SECRET: "0123456789abcdef" })).toContain("YACI_LINK_SECRET is 16 characters long; it must be at least 32");
    // Not registered yet: Probot's setup page, which needs no secret.
    app = await startApp({ github, env: { APP_ID: "", WEBHOOK_SECRET: "" } });
    expect((await fetch(`${app.url}/probot`)).status).toBe(200);
  });

  // Step budgets: an app start, the first delivery handled to its check run, two replays, the stop.
  it("a signed delivery replayed under new delivery ids runs nothing more", { timeout: e2eBudget({ ...STEP_MS, handled: 30_000, replays: 10_000 }) }, async () => {
    app = await startApp({ github, env: { YACI_CATCHUP_INTERVAL: "off" } });
    const sha = "5eed".repeat(10);
    const payload = pushPayload(sha);
    const { login: owner } = payload.repository.owner as { login: string };
    github.setFiles(owner, payload.repository.name, sha, { ".yaci.yml": "run: echo once\n" });
    const send = (deliveryId: string) => sendWebhook(app!.webhookUrl, { event: "push", payload, secret: app!.webhookSecret, deliveryId });
    expect(await send("original-1")).toBe(202);
    await app.waitForHandled("original-1");
    await waitFor(() => github.checkRunsFor(owner, payload.repository.name, sha).length === 1);
    // The same signed bytes, new ids: recognised at the door (200), nothing stored, nothing read.
    expect(await send("replay-1")).toBe(200);
    expect(await send("replay-2")).toBe(200);
    expect(github.requestsTo("GET", "/contents/.yaci.yml").filter((r) => r.query.ref === sha)).toHaveLength(1);
    expect(github.checkRunsFor(owner, payload.repository.name, sha)).toHaveLength(1);
    await app.waitForLog((l) => l.msg === "delivery received before: nothing to do" && l.delivery === "replay-2");
    expect(app.jsonLogs().filter((l) => l.msg === "delivery received before: nothing to do").map((l) => l.delivery)).toEqual(["replay-1", "replay-2"]);
  });
});
