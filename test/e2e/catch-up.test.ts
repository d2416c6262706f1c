import { createServer, type IncomingMessage, type Server } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandIn, waitFor, type GitHubStandIn } from "../support/github-stand-in.js";
import { e2eBudget, freePort, startApp, STEP_MS, type AppProcess } from "../support/app-process.js";
import { TEST_WEBHOOK_SECRET } from "../support/test-app-keys.js";
import { loadExample, withInstallation } from "../support/webhooks.js";

/**
 * Acceptance 2 of issue 5: a push delivered while YACI is down fails; once the app is up, its
 * catch-up has GitHub redeliver it, and exactly one check run completes. A second start asks
 * for nothing more.
 *
 * GitHub posts to one fixed webhook URL. Here that URL is a "front door" on a port of its own (a
 * load balancer in front of the app): while the app is down nothing listens there (the delivery
 * fails with no answer, status_code 0); once the app runs, the front door forwards to it.
 */

const INSTALLATION = 5151;
const CATCH_UP_ENV = { YACI_CATCHUP_FIRST_DELAY: "1s", YACI_CATCHUP_INTERVAL: "1s" };

let github: GitHubStandIn;
let app: AppProcess | undefined;
let front: Server | undefined;
/** Where the front door forwards to; requests wait for it while no app is up. */
let backend: Promise<string>;
let setBackend: (url: string) => void;

function resetBackend(): void {
  backend = new Promise((resolve) => (setBackend = resolve));
}

beforeAll(async () => {
  github = await startGitHubStandIn();
});
afterAll(async () => {
  await new Promise<void>((resolve) => (front ? front.close(() => resolve()) : resolve()));
  front?.closeAllConnections();
  await github.close();
});
afterEach(async () => {
  if (app) await app.stop();
  app?.removeDataDir();
  app = undefined;
});

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Opens the front door on `port`: forwards each request, as is, to the current app. */
async function openFrontDoor(port: number): Promise<void> {
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const target = await backend;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (typeof v === "string" && !["host", "connection", "content-length"].includes(k)) headers[k] = v;
      }
      const answer = await fetch(`${target}${req.url ?? "/"}`, { method: req.method, headers, body: body.length > 0 ? body : undefined });
      const text = Buffer.from(await answer.arrayBuffer());
      res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "text/plain" });
      res.end(text);
    })().catch((err: unknown) => {
      res.writeHead(502);
      res.end(String(err));
    });
  });
  server.keepAliveTimeout = 1000;
  front = server;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
}

/** What each step of the test may take (ms); the test's timeout is their sum. */
const STEPS = {
  deliveryWhileDown: 15_000,
  firstStart: STEP_MS.appStart,
  redeliveredAndCompleted: 60_000, // first catch-up pass after 1 s, the redelivery, the job, its report
  redeliveryAnswered: 30_000,
  twoMorePasses: 40_000, // passes every 1 s
  stop: STEP_MS.appStop,
  secondStart: STEP_MS.appStart,
  passAfterRestart: 40_000,
};

const passesDone = (a: AppProcess) => a.jsonLogs().filter((l) => l.msg === "catch-up pass done");

describe("catch-up after downtime (end to end)", () => {
  it("a push that failed while the app was down is redelivered once and gets exactly one completed check run", { timeout: e2eBudget(STEPS) }, async () => {
    const port = await freePort();
    github.setWebhookTarget(`http://127.0.0.1:${port}/api/github/webhooks`, TEST_WEBHOOK_SECRET);

    const sha = "cafe0001" + "c0ffee".repeat(5) + "ab";
    const payload = withInstallation(loadExample("push", (p) => p.ref.startsWith("refs/heads/") && !p.deleted), INSTALLATION);
    payload.after = sha;
    const owner = (payload.repository.owner as { login: string }).login;
    const repo = payload.repository.name;
    github.setFiles(owner, repo, sha, { ".yaci.yml": "run: echo caught up\n" });

    // The app is down: GitHub gets no answer.
    const failed = await github.deliver("push", payload);
    expect(failed.status_code).toBe(0);
    expect(github.checkRunsFor(owner, repo, sha)).toEqual([]);

    // The app comes up behind the webhook URL.
    resetBackend();
    await openFrontDoor(port);
    app = await startApp({ github, env: CATCH_UP_ENV });
    setBackend(app.url);
    const dataDir = app.dataDir;

    const [run] = await waitFor(
      () => {
        const runs = github.checkRunsFor(owner, repo, sha);
        return runs.length > 0 && runs.every((r) => r.status === "completed") ? runs : undefined;
      },
      { timeoutMs: STEPS.redeliveredAndCompleted, message: `the check run of ${sha} to complete` },
    );
    expect(run).toMatchObject({ name: "build", status: "completed", conclusion: "success", head_sha: sha });
    expect(run!.output.text).toContain("caught up");
    expect(github.redeliveryAttempts.map((a) => a.guid)).toEqual([failed.guid]);
    expect(github.redeliveryAttempts[0]!.deliveryId).toBe(failed.id);
    await waitFor(() => github.redeliveryAttempts[0]!.status === 202, { timeoutMs: STEPS.redeliveryAnswered, message: "the redelivery to be answered" });
    const asked = app.jsonLogs().filter((l) => typeof l.msg === "string" && l.msg.includes("asked GitHub to redeliver"));
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({ guid: failed.guid, event: "push" });

    // Later passes of the same process ask for nothing more.
    const seen = passesDone(app).length;
    await waitFor(() => passesDone(app!).length >= seen + 2, { timeoutMs: STEPS.twoMorePasses, message: "two more catch-up passes" });
    expect(github.redeliveryAttempts).toHaveLength(1);

    // A restart (same data dir) neither asks again nor runs the job again.
    await app.stop();
    resetBackend();
    app = await startApp({ github, dataDir, env: CATCH_UP_ENV });
    setBackend(app.url);
    const pass = await app.waitForLog((l) => l.msg === "catch-up pass done", { timeoutMs: STEPS.passAfterRestart, message: "the first catch-up pass after the restart" });
    expect(pass).toMatchObject({ redelivered: 0, errors: 0 });
    expect(pass.scanned).toBeGreaterThanOrEqual(2);
    expect(github.redeliveryAttempts).toHaveLength(1);
    expect(github.checkRunsFor(owner, repo, sha)).toHaveLength(1);
    expect(github.violations).toEqual([]);
  });
});
