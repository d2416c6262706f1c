import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Probot } from "probot";
import { createApp } from "../../src/app.js";
import type { Deps, GitHubClient } from "../../src/deps.js";
import { RateLimitTracker, WRITE_WINDOWS, WriteBudget, yaciOctokit } from "../../src/github/octokit.js";
import { LocalExecutor } from "../../src/executors/local/local-executor.js";
import { LogStore } from "../../src/logs/log-store.js";
import { startGitHubStandIn, waitFor, type GitHubStandIn } from "../support/github-stand-in.js";
import { TEST_APP_ID, TEST_PRIVATE_KEY } from "../support/test-app-keys.js";
import { loadExample, withInstallation } from "../support/webhooks.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const JOBS = 200;
const PER_MINUTE = 80; // GitHub's documented content-creation limit, written here, not read from the code
const PER_HOUR = 500;

/** The write budget's clock, driven by the test (as in api-budget.test.ts); every released write is counted. */
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

describe("the fair queue, on the local executor with the GitHub stand-in", () => {
  it(
    "a 200-job push drains within every installation's write budget; a later installation's job goes ahead; queued check runs state their position",
    { timeout: 240_000 },
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), "yaci-fair-"));
      const workspace = mkdtempSync(join(tmpdir(), "yaci-fair-ws-"));
      const starts: string[] = [];
      const executor = new LocalExecutor({
        dataDir,
        logs: new LogStore(dataDir),
        concurrency: 4,
        checkoutToken: async () => "unused",
        githubApiUrl: github.baseUrl,
        workspaceFrom: workspace, // no tarball: the test is about the queue
        containment: { sandboxed: false, warning: "not sandboxed (test)" },
      });
      /** How many jobs had started when globex's job first reached the executor (queued or started at once). */
      let startsBeforeGlobex: number | undefined;
      executor.subscribe((o) => {
        if (o.runId.includes("globex")) startsBeforeGlobex ??= starts.length;
        if (o.phase === "running") starts.push(o.runId);
      });
      const budget = { writeBudget: clock.budget, rateLimits: new RateLimitTracker() };
      const client: GitHubClient = { ...budget, Octokit: yaciOctokit(budget) };
      const probot = new Probot({ appId: TEST_APP_ID, privateKey: TEST_PRIVATE_KEY, secret: "s", baseUrl: github.baseUrl, Octokit: client.Octokit, logLevel: "error" });
      let deps!: Deps;
      await probot.load(createApp({ YACI_DATA_DIR: dataDir, YACI_CATCHUP_INTERVAL: "off" }, { github: client, executor }, (d) => (deps = d)), {
        cwd: process.cwd(),
        addHandler: () => {},
      });
      const acme = { installation: 601, owner: "acme", repo: "api", sha: "c".repeat(40), jobs: JOBS };
      const globex = { installation: 602, owner: "globex", repo: "web", sha: "d".repeat(40), jobs: 1 };
      const push = async (t: typeof acme) => {
        github.addInstallation(t.installation, { account: t.owner } as Any);
        const config = "jobs:\n" + Array.from({ length: t.jobs }, (_, i) => `  ${t.owner}${i}:\n    run: "true"\n`).join("");
        github.setFiles(t.owner, t.repo, t.sha, { ".yaci.yml": config });
        const p: Any = withInstallation(loadExample("push", (x) => x.ref.startsWith("refs/heads/") && !x.deleted), t.installation);
        p.after = t.sha;
        p.repository = { ...p.repository, name: t.repo, full_name: `${t.owner}/${t.repo}`, owner: { ...p.repository.owner, login: t.owner, name: t.owner } };
        await probot.receive({ id: `push-${t.installation}`, name: "push", payload: p } as Any);
      };
      await push(acme);
      await push(globex);
      const tenants = [acme, globex];
      const writesOf = (t: typeof acme) => github.requests.filter((r) => r.method !== "GET" && r.path.startsWith(`/repos/${t.owner}/${t.repo}/`));
      const released = (t: typeof acme) => clock.sent.filter((s) => s.installation === String(t.installation)).length;
      const completed = () => github.checkRuns.filter((r) => r.status === "completed").length;
      const total = acme.jobs + globex.jobs;

      // Move the budget's clock only when every write it released has landed and a final write waits.
      while (completed() < total) {
        const state = await waitFor(
          () => {
            if (completed() === total) return "done";
            const landed = tenants.every((t) => writesOf(t).length === released(t));
            return landed && clock.sleepers.length > 0 ? "held" : undefined;
          },
          { timeoutMs: 120_000, message: "the jobs run and their writes land or wait for the budget" },
        );
        if (state === "done") break;
        clock.advanceTo(Math.min(...clock.sleepers.map((s) => s.until)));
      }
      await deps.reporter.idle();

      // Fair: globex's one job, pushed after acme's 200, took the very next free slot: no acme job
      // started between its arrival and its start.
      const globexRun = starts.findIndex((id) => id.includes("globex"));
      expect(startsBeforeGlobex).toBeDefined();
      expect(startsBeforeGlobex!).toBeLessThan(JOBS / 2); // it arrived while acme's queue was long
      expect(globexRun).toBe(startsBeforeGlobex);
      // Every acme job ran, once, in the order it was accepted.
      const acmeStarts = starts.filter((id) => id.includes("acme"));
      expect(acmeStarts).toHaveLength(JOBS);
      expect(new Set(acmeStarts).size).toBe(JOBS);

      for (const t of tenants) {
        const runs = github.checkRunsFor(t.owner, t.repo, t.sha);
        expect(runs).toHaveLength(t.jobs);
        for (const r of runs) expect(r.history.filter((h) => h.status === "completed"), r.name).toHaveLength(1);
        // No window of the budget's clock holds more writes than GitHub allows.
        const times = writesOf(t).map((r) => r.time.getTime()).sort((a, b) => a - b);
        for (const start of times) {
          expect(times.filter((x) => x >= start && x < start + 60_000).length, `minute from ${start}`).toBeLessThanOrEqual(PER_MINUTE);
          expect(times.filter((x) => x >= start && x < start + 3_600_000).length, `hour from ${start}`).toBeLessThanOrEqual(PER_HOUR);
        }
      }
      // The queued check runs that went out say where each job stands; the budget held the rest back.
      const queuedTitles = github.checkRunsFor(acme.owner, acme.repo, acme.sha).flatMap((r) => r.history.filter((h) => h.status === "queued").map((h) => (h.output as { title?: string } | undefined)?.title ?? ""));
      expect(queuedTitles.length).toBeGreaterThan(0);
      expect(queuedTitles.length).toBeLessThan(JOBS); // queued writes gave way to the budget
      for (const title of queuedTitles) expect(title).toMatch(/^(Waiting for a runner: (\d+ jobs? ahead( \(\d+ from acme\))?|next in line)|Queued)$/);
      expect(queuedTitles.some((t) => /Waiting for a runner: \d+ jobs ahead \(\d+ from acme\)/.test(t))).toBe(true);
      expect(github.violations).toEqual([]);
      await executor.removed();
    },
  );
});
