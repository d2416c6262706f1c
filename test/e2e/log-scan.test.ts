import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandIn, waitFor, type GitHubStandIn } from "../support/github-stand-in.js";
import { e2eBudget, startApp, type AppProcess } from "../support/app-process.js";
import { TEST_PRIVATE_KEY } from "../support/test-app-keys.js";
import { loadExample, sendWebhook, withInstallation } from "../support/webhooks.js";

/**
 * Issue 10, item 5: the app's own output (LOG_LEVEL=debug, JSON) holds no credential, after a
 * session that uses every door: the API with its bearer token (right and wrong), a run page opened
 * through its signed link, signed webhooks, a forged one, a replay and an oversized one.
 */

const API_TOKEN = "log-scan-api-token-7c1e0f9a4b2d8e6f3a5c";
const LINK_SECRET = "log-scan-link-secret-0a9b8c7d6e5f4a3b2c1d";
const WRONG_TOKEN = "log-scan-wrong-token-1f2e3d4c5b6a79880";
let github: GitHubStandIn;
let app: AppProcess;

beforeAll(async () => {
  github = await startGitHubStandIn();
  app = await startApp({
    github,
    env: { YACI_API_TOKEN: API_TOKEN, YACI_LINK_SECRET: LINK_SECRET, YACI_PUBLIC_URL: "http://public.invalid", YACI_CATCHUP_INTERVAL: "off" },
  });
});
afterAll(async () => {
  await app?.stop();
  await github?.close();
});

describe("the app's log holds no credential (end to end)", () => {
  // Step budgets (the app is started in beforeAll): a run to its end, the run page, two webhooks handled.
  it("after API calls, a run page, webhooks good and bad: no bearer token, link token, private key or webhook secret", { timeout: e2eBudget({ run: 30_000, page: 10_000, webhooks: 30_000 }) }, async () => {
    const auth = { authorization: `Bearer ${API_TOKEN}` };
    // The API: a run, its status, and a wrong token.
    const res = await fetch(`${app.url}/run`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ command: "echo api" }) });
    expect(res.status).toBe(200);
    const { name } = (await res.json()) as { name: string };
    expect((await fetch(`${app.url}/get?id=${name}`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${app.url}/get?id=${name}`, { headers: { authorization: `Bearer ${WRONG_TOKEN}` } })).status).toBe(401);

    // A push: its check run's details link carries a signed token; the run page is opened with it.
    const sha = "10957a11".repeat(5);
    const payload = withInstallation(loadExample("push", (x) => x.ref.startsWith("refs/heads/") && !x.deleted), 9191);
    payload.after = sha;
    const { login: owner } = payload.repository.owner as { login: string };
    const repo = payload.repository.name;
    github.setFiles(owner, repo, sha, { ".yaci.yml": "run: echo scanned\n" });
    expect(await sendWebhook(app.webhookUrl, { event: "push", payload, secret: app.webhookSecret, deliveryId: "scan-1" })).toBe(202);
    const [run] = await waitFor(() => {
      const runs = github.checkRunsFor(owner, repo, sha);
      return runs.length === 1 && runs[0]!.status === "completed" ? runs : undefined;
    }, { timeoutMs: 20_000, message: "the check run to complete" });
    const link = new URL(run!.details_url!);
    const linkToken = link.searchParams.get("token")!;
    expect(linkToken.length).toBeGreaterThan(20);
    expect((await fetch(`${app.url}${link.pathname}${link.search}`)).status).toBe(200);
    expect((await fetch(`${app.url}${link.pathname}?token=${linkToken}x`)).status).toBeGreaterThanOrEqual(400);

    // Webhooks: forged, replayed, too large.
    expect(await sendWebhook(app.webhookUrl, { event: "push", payload, secret: app.webhookSecret, deliveryId: "scan-forged", badSignature: true })).toBe(400);
    expect(await sendWebhook(app.webhookUrl, { event: "push", payload, secret: app.webhookSecret, deliveryId: "scan-replay" })).toBe(200);
    const big = await new Promise<number | undefined>((resolve, reject) => {
      const headers = { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": "scan-big", "x-hub-signature-256": "sha256=00", "content-length": String(26 << 20) };
      const req = request(app.webhookUrl, { method: "POST", headers }, (r) => {
        r.resume();
        resolve(r.statusCode);
      });
      req.on("error", reject);
      req.flushHeaders();
    });
    expect(big).toBe(413);
    await app.waitForHandled("scan-1");

    // The installation tokens the stand-in minted for the app (checkout tokens included).
    const installationTokens = github.tokens.map((t) => t.token);
    expect(installationTokens.length).toBeGreaterThan(0);
    const keyLines = TEST_PRIVATE_KEY.split("\n").filter((l) => l.length >= 40);
    const output = app.logs().join("\n");
    const leaks = [
      ["YACI_API_TOKEN", API_TOKEN],
      ["a wrong bearer token", WRONG_TOKEN],
      ["YACI_LINK_SECRET", LINK_SECRET],
      ["a run-page link token", linkToken],
      ["WEBHOOK_SECRET", app.webhookSecret],
      ...keyLines.map((l) => ["a line of PRIVATE_KEY", l]),
      ...installationTokens.map((t) => ["an installation token", t]),
    ].filter(([, secret]) => output.includes(secret!));
    expect(leaks.map(([what]) => what)).toEqual([]);
    expect(output).not.toMatch(/Bearer (?!\[redacted\])\S/);
    // The log is not empty: the request lines are there, with their credentials redacted.
    expect(output).toContain("[redacted]");
    expect(output).toMatch(/GET \/runs\/[^ ]+\?token=\[redacted\]/);
  });
});
