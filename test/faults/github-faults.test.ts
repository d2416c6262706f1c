import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandIn, waitFor, type GitHubStandIn } from "../support/github-stand-in.js";
import { e2eBudget, startApp, STEP_MS, type AppProcess } from "../support/app-process.js";
import { loadExample, withInstallation } from "../support/webhooks.js";

/**
 * GitHub having a bad day while 50 jobs run in a real app process (local executor): 20% of its
 * API answers are 500/502/503 and a few writes meet the secondary rate limit (403 + retry-after),
 * drawn from a seeded PRNG. Every run must still end with one check run, completed, with the
 * conclusion its job earned.
 */

const INSTALLATION = 4343;
const PUSHES = 10;
const INSTALLATIONS = 5;
const JOBS = 5;
const SEED = 20_240_611;

/** Budgets (ms) of this file's steps; the test's timeout is their sum. */
const STEP = {
  start: STEP_MS.appStart,
  /** Ten deliveries answered 202 (stored; handled later). */
  deliver: 10_000,
  /**
   * 50 jobs at 5 at once, each: its config read, a checkout token, the tarball, `echo ok` or `exit 1`,
   * three check-run writes. Without faults this takes about 10 s; with them, a request that meets
   * two or three 5xx in a row waits 5 s or 14 s (Octokit's retries wait 1 s, 4 s, 9 s), one that
   * meets four goes round again through the reporter's, the inbox's or the checkout's own retries,
   * and a job waiting for its checkout holds one of the 5 slots meanwhile. Typically 30-60 s.
   */
  complete: 90_000,
  stop: STEP_MS.appStop,
};

let github: GitHubStandIn;
let app: AppProcess | undefined;

beforeAll(async () => {
  github = await startGitHubStandIn();
});
afterAll(async () => {
  if (app) await app.stop();
  app?.removeDataDir();
  await github.close();
});

/** Job `j` of push `p` fails (`exit 1`) on every third (push, job) pair; the others succeed. */
const fails = (p: number, j: number) => (p + j) % 3 === 0;

function config(p: number): string {
  return "jobs:\n" + Array.from({ length: JOBS }, (_, j) => `  job${j}:\n    run: ${fails(p, j) ? "echo failing; exit 1" : "echo ok"}\n`).join("");
}

describe("GitHub answering 5xx and secondary rate limits during 50 runs", () => {
  it(
    "every run ends with exactly one check run, completed, with the right conclusion",
    { timeout: e2eBudget(STEP) },
    async () => {
      app = await startApp({ github, env: { YACI_LOCAL_CONCURRENCY: "5", YACI_CATCHUP_INTERVAL: "off" } });
      github.setWebhookTarget(app.webhookUrl, app.webhookSecret);
      // Five installations (GitHub's write budget of 80 a minute is per installation: 50 runs in one
      // would wait for the next minute, which is not what this test is about), one repository each.
      const example = loadExample("push", (x) => x.ref.startsWith("refs/heads/") && !x.deleted);
      const pushes = Array.from({ length: PUSHES }, (_, p) => {
        const installation = INSTALLATION + (p % INSTALLATIONS);
        const owner = `fault-org-${p % INSTALLATIONS}`;
        const repo = "service";
        const sha = (p + 1).toString(16).padStart(8, "0") + "fa017".repeat(6) + "ab";
        github.addInstallation(installation, { account: owner });
        github.setFiles(owner, repo, sha, { ".yaci.yml": config(p), "README.md": `push ${p}\n` });
        const payload = withInstallation(structuredClone(example), installation);
        payload.repository = { ...payload.repository, id: 7000 + (p % INSTALLATIONS), name: repo, full_name: `${owner}/${repo}`, owner: { ...payload.repository.owner, login: owner, name: owner } };
        // Each push on its own branch: a newer push does not supersede (cancel) another's runs.
        return { owner, repo, sha, payload: { ...payload, ref: `refs/heads/fault-${p}`, after: sha } };
      });
      // GitHub goes bad before the first delivery and stays bad until the end.
      github.chaos({ seed: SEED, rate: 0.2, statuses: [500, 502, 503], secondaryRateLimits: 4, secondaryRate: 0.1, retryAfterSeconds: 1 });
      const deliveries = [];
      for (const p of pushes) deliveries.push(await github.deliver("push", p.payload));
      expect(deliveries.map((d) => d.status_code)).toEqual(pushes.map(() => 202));

      const all = () => pushes.flatMap((p) => github.checkRunsFor(p.owner, p.repo, p.sha));
      await waitFor(() => all().length >= PUSHES * JOBS && all().every((r) => r.status === "completed"), {
        timeoutMs: STEP.complete,
        intervalMs: 100,
        message: `${PUSHES * JOBS} check runs to complete`,
      }).catch((err: Error) => {
        const trouble = app!.jsonLogs().filter((l) => Number(l.level) >= 40).map((l) => `${String(l.msg).slice(0, 200)} ${l.runId ?? ""}`);
        throw new Error(
          `${err.message}; check runs: ${JSON.stringify(all().map((r) => [r.owner, r.head_sha.slice(0, 8), r.name, r.status, r.conclusion]))}; ` +
            `injected: ${JSON.stringify(github.chaosStats)}; the app's warnings:\n${trouble.slice(-40).join("\n")}`,
        );
      });
      // The app stops (SIGTERM: it finishes the writes in flight); after this nothing more can arrive.
      expect(await app.stop("SIGTERM", STEP.stop)).toMatchObject({ code: 0 });

      // Exactly one check run per (commit, job), completed, with the conclusion its job earned.
      const got = all().map((r) => `${r.owner}/${r.repo}@${r.head_sha.slice(0, 8)} ${r.name} ${r.status} ${r.conclusion}`);
      const want = pushes.flatMap((x, p) => Array.from({ length: JOBS }, (_, j) => `${x.owner}/${x.repo}@${x.sha.slice(0, 8)} job${j} completed ${fails(p, j) ? "failure" : "success"}`));
      expect(got.sort()).toEqual(want.sort());
      // Each failing job's check run says why (its output reached GitHub with it).
      for (const r of all().filter((x) => x.conclusion === "failure")) expect(r.output.title).toMatch(/^Failed: exit code 1 after/);
      // The faults really happened, and every request the app sent was a valid one.
      expect(github.chaosStats[500]! + github.chaosStats[502]! + github.chaosStats[503]!).toBeGreaterThan(20);
      expect(github.chaosStats[403]).toBe(4);
      expect(github.violations).toEqual([]);
      expect(github.errors).toEqual([]);
    },
  );
});
