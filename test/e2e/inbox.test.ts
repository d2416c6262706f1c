import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandIn, waitFor, type CheckRunRecord, type GitHubStandIn } from "../support/github-stand-in.js";
import { startApp, type AppProcess } from "../support/app-process.js";
import { loadExample, sendWebhook, withInstallation } from "../support/webhooks.js";

/**
 * Acceptance 1 of issue 12: deliveries answered 202 are on disk. The app is killed (SIGKILL) right
 * after answering, while GitHub holds its config reads; the next start replays the inbox and
 * every delivery is handled exactly once: one check run per job, each completed once.
 */

const INSTALLATION = 6161;
const OWNER = "Codertocat";
const CONFIG = "jobs:\n  test:\n    run: echo tested\n  lint:\n    run: echo linted\n";
let github: GitHubStandIn;
let app: AppProcess | undefined;
let n = 0;

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

function commit(repo: string, repoId: number) {
  const sha = (++n).toString(16).padStart(8, "0") + "dead".repeat(8);
  const payload = withInstallation(loadExample("push", (p) => p.ref.startsWith("refs/heads/") && !p.deleted), INSTALLATION);
  payload.after = sha;
  payload.ref = `refs/heads/inbox-${n}`;
  payload.repository = { ...payload.repository, id: repoId, name: repo, full_name: `${OWNER}/${repo}` };
  github.setFiles(OWNER, repo, sha, { ".yaci.yml": CONFIG });
  return { repo, sha, payload, deliveryId: `inbox-e2e-${n}` };
}

/** How many run records in `dataDir` say their final state was reported. */
function reportedCompleted(dataDir: string): number {
  const dir = join(dataDir, "runs");
  return readdirSync(dir).filter((f) => {
    try {
      return f.endsWith(".json") && (JSON.parse(readFileSync(join(dir, f), "utf8")) as { reported?: { phase?: string } }).reported?.phase === "completed";
    } catch {
      return false; // being replaced
    }
  }).length;
}

const runsOf = (c: { repo: string; sha: string }) => github.checkRunsFor(OWNER, c.repo, c.sha);
const finalWrites = (r: CheckRunRecord) => r.history.filter((h) => h.status === "completed" || h.conclusion !== undefined).length;
const allCompleted = (cs: Array<{ repo: string; sha: string }>) =>
  cs.every((c) => {
    const runs = runsOf(c);
    return runs.length === 2 && runs.every((r) => r.status === "completed");
  });

describe("the durable inbox (end to end)", () => {
  it("deliveries answered 202 survive a SIGKILL right after the answer and are handled exactly once after the restart", { timeout: 90_000 }, async () => {
    app = await startApp({ github, env: { YACI_CATCHUP_INTERVAL: "off" } });
    const dataDir = app.dataDir;
    // repo-a's deliveries are handled before the crash; repo-b's wait for GitHub (its config reads hang).
    const a = [commit("repo-a", 7001), commit("repo-a", 7001)];
    const b = [commit("repo-b", 7002), commit("repo-b", 7002), commit("repo-b", 7002)];
    const held = github.hold({ pathPattern: `/repos/${OWNER}/repo-b/contents/.yaci.yml` });
    try {
      const answers = await Promise.all(
        [...a, ...b].map((c) => sendWebhook(app!.webhookUrl, { event: "push", payload: c.payload, secret: app!.webhookSecret, deliveryId: c.deliveryId })),
      );
      expect(answers).toEqual([202, 202, 202, 202, 202]);
      await waitFor(() => allCompleted(a), { timeoutMs: 20_000, message: "repo-a's check runs to complete" });
      // …and the app has recorded that it reported them (a kill between the two would make the
      // next start write the same final state again: the reporter's business, not the inbox's).
      await waitFor(() => reportedCompleted(dataDir) === 4, { message: "repo-a's final reports to be recorded" });
      await waitFor(() => held.waiting() >= 1, { message: "repo-b's first config read to hang" });
      expect(b.flatMap(runsOf)).toEqual([]);
      await app.kill();
    } finally {
      held.release();
    }

    app = await startApp({ github, dataDir, env: { YACI_CATCHUP_INTERVAL: "off" } });
    const replay = await app.waitForLog((l) => l.msg === "inbox: handling deliveries stored before the restart");
    expect(replay.deliveries).toBeGreaterThanOrEqual(b.length);
    await waitFor(() => allCompleted(b), { timeoutMs: 20_000, message: "repo-b's check runs to complete" });
    for (const c of b) await app.waitForHandled(c.deliveryId);

    for (const c of [...a, ...b]) {
      const runs = runsOf(c);
      expect(runs.map((r) => r.name).sort()).toEqual(["lint", "test"]);
      expect(runs.map(finalWrites)).toEqual([1, 1]);
      expect(runs.every((r) => r.conclusion === "success")).toBe(true);
    }
    // A third start finds nothing left to do.
    await app.stop();
    app = await startApp({ github, dataDir, env: { YACI_CATCHUP_INTERVAL: "off" } });
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toMatch(/^yaci_inbox_depth 0$/m);
    expect(app.jsonLogs().filter((l) => l.msg === "inbox: handling deliveries stored before the restart")).toEqual([]);
    expect([...a, ...b].flatMap(runsOf)).toHaveLength(10);
    expect(github.violations).toEqual([]);
  });
});
