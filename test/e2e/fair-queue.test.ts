import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandIn, waitFor, type CheckRunRecord, type GitHubStandIn } from "../support/github-stand-in.js";
import { e2eBudget, startApp, STEP_MS, type AppProcess } from "../support/app-process.js";
import { loadExample, sendWebhook, withInstallation } from "../support/webhooks.js";

/**
 * Issue 13, acceptance 2: the fair queue, end to end (a real app process, the GitHub stand-in).
 * Installation A pushes 24 jobs of `sleep 2` while only 2 may run at once; installation B pushes
 * one job a moment later. B's job starts before A's third job does (B has nothing running, A has
 * its first two: B goes first), and all of A's jobs still complete, each once.
 */

const SLOTS = 2;
const A_JOBS = 24;
const SLEEP_S = 2;

/** Budgets (ms) of this file's steps; the test's timeout is the sum of the steps it takes. */
const STEP = {
  start: STEP_MS.appStart,
  stop: STEP_MS.appStop,
  /** A delivery answered (202). */
  push: 10_000,
  /** A's push turned into its first two running jobs, shown in_progress (config read, two checkouts). */
  firstTwo: 30_000,
  /** All 25 jobs run through 2 slots: 13 rounds of `sleep 2` (26 s) plus a checkout and the writes for each. */
  run: (Math.ceil((A_JOBS + 1) / SLOTS) * SLEEP_S + 34) * 1000,
};

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
  app = undefined;
});

/** A push of a fresh commit holding `config` as `.yaci.yml`, to its own installation's own account and repository. */
function pushEvent(installation: number, owner: string, config: string) {
  const repo = "service";
  const sha = installation.toString(16).padStart(8, "0") + "fa11".repeat(8);
  github.addInstallation(installation, { account: owner });
  github.setFiles(owner, repo, sha, { ".yaci.yml": config });
  const example = withInstallation(loadExample("push", (p) => p.ref.startsWith("refs/heads/") && !p.deleted), installation);
  const payload = {
    ...example,
    ref: "refs/heads/main",
    after: sha,
    repository: { ...example.repository, id: github.repoId(owner, repo), name: repo, full_name: `${owner}/${repo}`, owner: { ...example.repository.owner, login: owner, name: owner } },
  };
  return { owner, repo, sha, payload };
}

const startedAt = (r: CheckRunRecord): number => (r.started_at ? Date.parse(r.started_at) : NaN);
const title = (h: Record<string, unknown>): string => String((h.output as { title?: unknown } | undefined)?.title ?? "");

describe("fair queue between installations (issue 13), end to end", () => {
  it(
    "A's 24 jobs of `sleep 2` hold both slots; B's one job pushed a moment later starts before A's third, and each of A's jobs completes once",
    { timeout: e2eBudget(STEP) },
    async () => {
      app = await startApp({ github, env: { YACI_MAX_RUNNING: String(SLOTS), YACI_CATCHUP_INTERVAL: "off", LOG_LEVEL: "info" } });
      const names = Array.from({ length: A_JOBS }, (_, i) => `j${String(i + 1).padStart(2, "0")}`);
      const a = pushEvent(1301, "install-a", "jobs:\n" + names.map((n) => `  ${n}:\n    run: sleep ${SLEEP_S}\n`).join(""));
      const b = pushEvent(1302, "install-b", `jobs:\n  b1:\n    run: sleep ${SLEEP_S}\n`);
      const runsA = () => github.checkRunsFor(a.owner, a.repo, a.sha);
      const runsB = () => github.checkRunsFor(b.owner, b.repo, b.sha);

      expect(await sendWebhook(app.webhookUrl, { event: "push", payload: a.payload, secret: app.webhookSecret })).toBe(202);
      // A holds both slots: two of its check runs are in_progress (the rest wait).
      const firstTwo = await waitFor(() => {
        const running = runsA().filter((r) => r.status === "in_progress");
        return running.length >= SLOTS ? running : undefined;
      }, { timeoutMs: STEP.firstTwo, intervalMs: 50, message: `${SLOTS} of A's check runs in_progress` });
      expect(firstTwo).toHaveLength(SLOTS);
      expect(runsA().filter((r) => r.status === "completed")).toEqual([]); // still the first round

      expect(await sendWebhook(app.webhookUrl, { event: "push", payload: b.payload, secret: app.webhookSecret })).toBe(202);

      const everything = () => [...runsA(), ...runsB()];
      try {
        await waitFor(
          () => runsA().length === A_JOBS && runsB().length === 1 && everything().every((r) => r.status === "completed"),
          { timeoutMs: STEP.push + STEP.run, intervalMs: 100 },
        );
      } catch {
        const by: Record<string, number> = {};
        for (const r of everything()) by[r.status] = (by[r.status] ?? 0) + 1;
        const warnings = app.jsonLogs().filter((l) => Number(l.level) >= 40).slice(-5).map((l) => String(l.msg));
        throw new Error(`after ${STEP.push + STEP.run} ms, ${runsA().length}/${A_JOBS} of A's and ${runsB().length}/1 of B's check runs exist, by status ${JSON.stringify(by)}; last warnings: ${JSON.stringify(warnings)}`);
      }

      // B's job started before A's third did (`started_at`: when the app gave the job its slot, in
      // ms). A's first two end within a few ms of each other, so B and A's third start only ms
      // apart (8 ms in a trial run); the same ms means the same instant, where the app still gave B
      // the slot first. A first-come queue would start A's third and fourth there and B only after
      // one of them ended, 2 s later: that is what this catches.
      const [bRun] = runsB();
      expect(bRun).toMatchObject({ name: "b1", status: "completed", conclusion: "success" });
      const aStarts = runsA().map(startedAt).sort((x, y) => x - y);
      expect(aStarts.every(Number.isFinite)).toBe(true);
      expect(startedAt(bRun!)).toBeLessThanOrEqual(aStarts[2]!);
      // …and after A's first two (it was pushed while they ran).
      expect(startedAt(bRun!)).toBeGreaterThanOrEqual(aStarts[1]!);

      // Each of A's jobs: one check run, completed success by one completing write.
      const byName = new Map<string, CheckRunRecord[]>();
      for (const r of runsA()) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
      expect([...byName.keys()].sort()).toEqual(names);
      for (const [name, runs] of byName) {
        expect(runs, name).toHaveLength(1);
        expect(runs[0], name).toMatchObject({ status: "completed", conclusion: "success" });
        expect(runs[0]!.history.filter((h) => h.status === "completed"), name).toHaveLength(1);
      }

      // A waiting check run of A told where it stood.
      const positions = runsA().flatMap((r) => r.history.map(title)).filter((t) => t.startsWith("Waiting for a runner"));
      expect(positions.length).toBeGreaterThan(0);

      expect(github.violations).toEqual([]);
      expect(github.errors).toEqual([]);
    },
  );
});
