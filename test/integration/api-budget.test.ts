import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Probot } from "probot";
import { createApp } from "../../src/app.js";
import type { Deps, GitHubClient } from "../../src/deps.js";
import { RateLimitTracker, WRITE_WINDOWS, WriteBudget, yaciOctokit } from "../../src/github/octokit.js";
import { FakeExecutor } from "../fakes/fake-executor.js";
import { startGitHubStandIn, waitFor, type GitHubStandIn } from "../support/github-stand-in.js";
import { TEST_APP_ID, TEST_PRIVATE_KEY } from "../support/test-app-keys.js";
import { loadExample, withInstallation } from "../support/webhooks.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
/** 90 jobs per installation: their final updates alone are more than GitHub's 80 writes a minute. */
const JOBS = 90;
const PER_MINUTE = 80; // GitHub's documented content-creation limit, written here, not read from the code
const CONFIG = "jobs:\n" + Array.from({ length: JOBS }, (_, i) => `  job${i}:\n    run: echo ${i}\n`).join("");

/**
 * The write budget's time, driven by the test: `now` stands still until `advanceTo`, and a budget
 * wait (`sleep`) ends only when the test moves the clock past it. Every write the budget lets out
 * is counted per installation (the stand-in stamps what arrives with the same clock).
 */
function drivenClock() {
  let t = 0;
  const sleepers: { until: number; wake: () => void }[] = [];
  const sent: { installation: string; at: number }[] = [];
  const now = () => t;
  const sleep = (ms: number) => new Promise<void>((wake) => sleepers.push({ until: t + ms, wake }));
  const advanceTo = (to: number) => {
    t = to;
    for (const s of sleepers.splice(0).filter((s) => (s.until <= t ? (s.wake(), false) : true))) sleepers.push(s);
  };
  class RecordingBudget extends WriteBudget {
    override key(id: string) {
      const inner = super.key(id);
      return {
        schedule: <T>(options: object, fn: () => Promise<T>) =>
          inner.schedule(options, () => {
            sent.push({ installation: id, at: t });
            return fn();
          }),
      };
    }
  }
  return { budget: new RecordingBudget(WRITE_WINDOWS, now, sleep), sleepers, sent, now, advanceTo };
}

const clock = drivenClock();
let github: GitHubStandIn;
beforeAll(async () => {
  github = await startGitHubStandIn({ requestClock: clock.now });
});
afterAll(async () => {
  await github.close();
});

describe("GitHub API budget", () => {
  it(
    "two installations × 90 jobs ending together: 80 writes per installation go at once, the rest wait until the minute allows them, secondary rate limits delay but lose nothing",
    { timeout: 120_000 },
    async () => {
      const fake = new FakeExecutor();
      const budget = { writeBudget: clock.budget, rateLimits: new RateLimitTracker() };
      const client: GitHubClient = { ...budget, Octokit: yaciOctokit(budget) };
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
      // Every write that reached GitHub for a tenant's repository, the ones answered 403 included.
      const writesOf = (t: (typeof tenants)[number]) => github.requests.filter((r) => r.method !== "GET" && r.path.startsWith(`/repos/${t.owner}/${t.repo}/`));
      const completedOf = (t: (typeof tenants)[number]) => github.checkRunsFor(t.owner, t.repo, t.sha).filter((r) => r.status === "completed").length;
      const released = (t: (typeof tenants)[number]) => clock.sent.filter((s) => s.installation === String(t.installation)).length;
      const completed = () => github.checkRuns.filter((r) => r.status === "completed").length;

      // GitHub pushes back on five of the final writes: 403 + retry-after (a secondary rate limit).
      github.secondaryRateLimit({ method: "PATCH", pathPattern: "/check-runs/", retryAfter: 1, times: 5 });
      const started = new Set<string>();
      fake.subscribe((o) => {
        // Each job runs and ends as soon as it starts: all of them end within the first minute.
        if (o.phase !== "pending" || started.has(o.runId)) return;
        started.add(o.runId);
        queueMicrotask(() => {
          fake.run(o.runId);
          fake.finish(o.runId, "succeeded", 0);
        });
      });
      for (const t of tenants) {
        github.addInstallation(t.installation, { account: t.owner } as Any);
        github.setFiles(t.owner, t.repo, t.sha, { ".yaci.yml": CONFIG });
        const p: Any = withInstallation(loadExample("push", (x) => x.ref.startsWith("refs/heads/") && !x.deleted), t.installation);
        p.after = t.sha;
        p.repository = { ...p.repository, name: t.repo, full_name: `${t.owner}/${t.repo}`, owner: { ...p.repository.owner, login: t.owner, name: t.owner } };
        await probot.receive({ id: `push-${t.installation}`, name: "push", payload: p } as Any);
      }

      // Drive the budget's clock: move it only when every installation with work left is held by the
      // budget (a wait is pending) and every write it released has reached GitHub; then move it
      // exactly to the end of the earliest wait.
      const advances: number[] = [];
      while (completed() < 2 * JOBS) {
        const state = await waitFor(
          () => {
            if (completed() === 2 * JOBS) return "done";
            const held = tenants.every(
              (t) => (completedOf(t) === JOBS || clock.budget.delayFor(String(t.installation)) > 0) && writesOf(t).length === released(t),
            );
            return held && clock.sleepers.length > 0 ? "held" : undefined;
          },
          { timeoutMs: 30_000, message: "the jobs' writes either land or wait for the budget" },
        );
        if (state === "done") break;
        const to = Math.min(...clock.sleepers.map((s) => s.until));
        advances.push(to);
        clock.advanceTo(to);
      }
      await deps.reporter.idle();

      for (const t of tenants) {
        const writes = writesOf(t);
        // Every job's check run was completed, once: no final update lost, none doubled.
        const runs = github.checkRunsFor(t.owner, t.repo, t.sha);
        expect(runs, `installation ${t.installation}: check runs`).toHaveLength(JOBS);
        for (const r of runs) expect(r.history.filter((h) => h.status === "completed"), r.name).toHaveLength(1);
        expect(writes.length).toBeGreaterThan(PER_MINUTE); // the budget really was exceeded
        // In bursts: the first 80 went out at once, at the budget's time 0.
        expect(writes.filter((r) => r.time.getTime() === 0)).toHaveLength(PER_MINUTE);
        // No 60-second window of the budget's clock holds more than 80 writes.
        const times = writes.map((r) => r.time.getTime()).sort((a, b) => a - b);
        for (const start of times) expect(times.filter((x) => x >= start && x < start + 60_000).length, `window from ${start}`).toBeLessThanOrEqual(PER_MINUTE);
      }
      // The clock moved only because writes waited, first when the first minute's window was full.
      expect(advances[0]).toBe(60_001);
      expect(github.requests.filter((r) => r.status === 403)).toHaveLength(5);
      expect(github.violations).toEqual([]);
    },
  );
});
