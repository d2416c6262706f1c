import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Probot } from "probot";
import { createApp } from "../../src/app.js";
import { createGitHubClient, type Deps } from "../../src/deps.js";
import { FakeExecutor } from "../fakes/fake-executor.js";
import { startGitHubStandIn, waitFor, type GitHubStandIn } from "../support/github-stand-in.js";
import { TEST_APP_ID, TEST_PRIVATE_KEY } from "../support/test-app-keys.js";
import { loadExample, withInstallation } from "../support/webhooks.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const JOBS = 20;
const CONFIG = "jobs:\n" + Array.from({ length: JOBS }, (_, i) => `  job${i}:\n    run: echo ${i}\n`).join("");

let github: GitHubStandIn;
beforeAll(async () => {
  github = await startGitHubStandIn();
});
afterAll(async () => {
  await github.close();
});

describe("GitHub API budget", () => {
  it("two installations × 20 jobs ending together: each final update lands within 5 s, ≤ 80 writes per minute per installation, secondary rate limits delay but lose nothing", async () => {
    const fake = new FakeExecutor();
    const client = createGitHubClient();
    const probot = new Probot({ appId: TEST_APP_ID, privateKey: TEST_PRIVATE_KEY, secret: "s", baseUrl: github.baseUrl, Octokit: client.Octokit, logLevel: "error" });
    let deps!: Deps;
    await probot.load(createApp({ YACI_DATA_DIR: mkdtempSync(join(tmpdir(), "yaci-budget-")), YACI_CATCHUP_INTERVAL: "off" }, { github: client, executor: fake }, (d) => (deps = d)), {
      cwd: process.cwd(),
      addHandler: () => {},
    });
    const tenants = [
      { installation: 501, owner: "acme", repo: "api", sha: "a".repeat(40) },
      { installation: 502, owner: "globex", repo: "web", sha: "b".repeat(40) },
    ];
    for (const t of tenants) {
      github.addInstallation(t.installation, { account: t.owner } as Any);
      github.setFiles(t.owner, t.repo, t.sha, { ".yaci.yml": CONFIG });
      const p: Any = withInstallation(loadExample("push", (x) => x.ref.startsWith("refs/heads/") && !x.deleted), t.installation);
      p.after = t.sha;
      p.repository = { ...p.repository, name: t.repo, full_name: `${t.owner}/${t.repo}`, owner: { ...p.repository.owner, login: t.owner, name: t.owner } };
      await probot.receive({ id: `push-${t.installation}`, name: "push", payload: p } as Any);
    }
    const byStatus = () => JSON.stringify(github.checkRuns.reduce((m: Any, r) => ({ ...m, [r.status]: (m[r.status] ?? 0) + 1 }), {}));
    await waitFor(() => github.checkRuns.filter((r) => r.status === "queued").length === 2 * JOBS, { timeoutMs: 20_000, message: `40 queued: ${byStatus()}` });
    await waitFor(() => fake.started.length === 2 * JOBS, { timeoutMs: 5_000, message: "all jobs started" });
    for (const s of fake.started) fake.run(s.id);
    await waitFor(() => github.checkRuns.filter((r) => r.status === "in_progress").length === 2 * JOBS, { timeoutMs: 20_000, message: "40 in progress" });

    // GitHub pushes back on five of the final writes: 403 + retry-after (a secondary rate limit).
    github.secondaryRateLimit({ method: "PATCH", pathPattern: "/check-runs/", retryAfter: 1, times: 5 });
    const endedAt = new Date();
    for (const s of fake.started) fake.finish(s.id, "succeeded", 0, endedAt);
    await waitFor(() => github.checkRuns.filter((r) => r.status === "completed").length === 2 * JOBS, { timeoutMs: 30_000 });
    await deps.reporter.idle();

    // Every final update was written (none lost), each within 5 s of its job's end.
    const finals = github.requests.filter((r) => r.method === "PATCH" && r.status === 200 && (r.body as Any)?.status === "completed");
    expect(finals).toHaveLength(2 * JOBS);
    const lateness = finals.map((r) => r.time.getTime() - endedAt.getTime());
    expect(Math.max(...lateness)).toBeLessThan(5_000);
    expect(github.requests.filter((r) => r.status === 403)).toHaveLength(5);

    // No installation sent more than 80 mutating requests in any 60-second window.
    for (const t of tenants) {
      const times = github.requests
        .filter((r) => r.method !== "GET" && r.token?.installationId === t.installation)
        .map((r) => r.time.getTime())
        .sort((a, b) => a - b);
      expect(times.length).toBeGreaterThanOrEqual(3 * JOBS);
      for (let i = 0; i < times.length; i++) {
        expect(times.filter((x) => x >= times[i]! && x < times[i]! + 60_000).length).toBeLessThanOrEqual(80);
      }
    }
    expect(github.violations).toEqual([]);
  });
});
