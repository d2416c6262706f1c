import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INTERRUPTED_MESSAGE } from "../../src/core/run.js";
import { mulberry32, startGitHubStandIn, waitFor, type GitHubStandIn } from "../support/github-stand-in.js";
import { e2eBudget, startApp, STEP_MS, type AppProcess } from "../support/app-process.js";
import { loadExample, withInstallation } from "../support/webhooks.js";

/**
 * The real app process (local executor) killed with SIGKILL at seeded random moments while 50
 * runs come in and run, restarted on the same data directory each time, until all are done.
 * Every run must be reported exactly once: with the result its job earned, or, when the kill
 * caught it running, as "interrupted: the runner restarted" (README, "restart").
 */

const INSTALLATION = 4545;
/** Runs spread over installations: GitHub's write budget (80 a minute) is per installation, and 150 writes in one would wait for the next minute. */
const INSTALLATIONS = 5;
const PUSHES = 10;
const SEED = 0x5eed_0011;
/** Lives that end in a SIGKILL, each taking two pushes; one more life then finishes the work. */
const KILLS = 5;
/** The jobs of every push: what each runs and the conclusion it earns when nothing interrupts it. */
const JOBS = [
  { name: "job0", run: "sleep 1", conclusion: "success" },
  { name: "job1", run: "echo ok", conclusion: "success" },
  { name: "job2", run: "echo failing; exit 1", conclusion: "failure" },
  { name: "job3", run: "sleep 3; echo done", conclusion: "success" },
  { name: "job4", run: "sleep 1; exit 1", conclusion: "failure" },
] as const;
const CONFIG = "jobs:\n" + JOBS.map((j) => `  ${j.name}:\n    run: ${j.run}\n`).join("");

/** Budgets (ms) of this file's steps; the test's timeout is their sum. */
const STEP = {
  /** Each start of the app (KILLS + 1 of them). */
  starts: (KILLS + 1) * STEP_MS.appStart,
  /** Each killed life: two deliveries answered 202, a `sleep 3` job in progress, up to 2 s more. */
  lives: KILLS * 15_000,
  /** The last life: what is left of 50 short jobs (at most 4 at once, none over 3 s) reported. */
  complete: 45_000,
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

describe("SIGKILL at random moments during 50 runs, restarted each time", () => {
  it("every run is reported exactly once: as its job ended, or as interrupted by the restart", { timeout: e2eBudget(STEP) }, async () => {
    const random = mulberry32(SEED);
    const example = loadExample("push", (x) => x.ref.startsWith("refs/heads/") && !x.deleted);
    const repo = "service";
    const pushes = Array.from({ length: PUSHES }, (_, p) => {
      const owner = `kill-org-${p % INSTALLATIONS}`;
      github.addInstallation(INSTALLATION + (p % INSTALLATIONS), { account: owner });
      const sha = (p + 1).toString(16).padStart(8, "0") + "dead1".repeat(6) + "ab";
      github.setFiles(owner, repo, sha, { ".yaci.yml": CONFIG });
      const payload = withInstallation(structuredClone(example), INSTALLATION + (p % INSTALLATIONS));
      payload.repository = { ...payload.repository, name: repo, full_name: `${owner}/${repo}`, owner: { ...payload.repository.owner, login: owner, name: owner } };
      // Each push on its own branch: a newer push does not supersede (cancel) another's runs.
      return { owner, sha, payload: { ...payload, ref: `refs/heads/kill-${p}`, after: sha } };
    });
    const env = { YACI_LOCAL_CONCURRENCY: "4", YACI_CATCHUP_INTERVAL: "off" };
    let dataDir: string | undefined;
    const killedAfterMs: number[] = [];

    for (let life = 0; life < KILLS; life++) {
      app = await startApp({ github, env, ...(dataDir ? { dataDir } : {}) });
      dataDir = app.dataDir;
      github.setWebhookTarget(app.webhookUrl, app.webhookSecret);
      for (const p of pushes.slice(2 * life, 2 * life + 2)) expect((await github.deliver("push", p.payload)).status_code).toBe(202);
      // A `sleep 3` job is running in this life; the kill comes 0-2 s later (seeded).
      const current = app;
      await waitFor(() => current.jsonLogs().some((l) => l.msg === "run in_progress" && String(l.runId).startsWith("yaci-job3-")), {
        timeoutMs: STEP.lives / KILLS - 2_000,
        message: `a sleep-3 job to run in life ${life}`,
      });
      const ms = Math.floor(random() * 2_000);
      killedAfterMs.push(ms);
      await new Promise((r) => setTimeout(r, ms));
      expect(await app.kill()).toMatchObject({ signal: "SIGKILL" });
    }

    // The last life: nothing more is delivered; what is left runs and is reported.
    app = await startApp({ github, env, dataDir });
    const all = () => pushes.flatMap((p) => github.checkRunsFor(p.owner, repo, p.sha));
    await waitFor(() => all().length >= PUSHES * JOBS.length && all().every((r) => r.status === "completed"), {
      timeoutMs: STEP.complete,
      intervalMs: 100,
      message: `${PUSHES * JOBS.length} check runs to complete (kills after ${killedAfterMs.join(", ")} ms)`,
    }).catch((err: Error) => {
      throw new Error(`${err.message}; check runs: ${JSON.stringify(all().map((r) => [r.head_sha.slice(0, 8), r.name, r.status, r.conclusion, r.output.title]))}`);
    });
    expect(await app.stop("SIGTERM", STEP.stop)).toMatchObject({ code: 0 });

    // Exactly one check run per (commit, job), completed: as its job ended, or interrupted.
    const interrupted = `Failed: ${INTERRUPTED_MESSAGE}`;
    const got = all().map((r) => `${r.head_sha.slice(0, 8)} ${r.name} ${r.status} ${r.output.title === interrupted ? "interrupted" : r.conclusion}`);
    const runs = pushes.flatMap((p) => JOBS.map((j) => ({ key: `${p.sha.slice(0, 8)} ${j.name}`, want: j.conclusion })));
    expect(got.map((g) => g.split(" ").slice(0, 2).join(" ")).sort()).toEqual(runs.map((r) => r.key).sort()); // one each, none missing
    for (const r of runs) {
      const line = got.find((g) => g.startsWith(`${r.key} `))!;
      expect([`${r.key} completed ${r.want}`, `${r.key} completed interrupted`], line).toContain(line);
    }
    // An interrupted run is a failure that says why; every kill caught a `sleep 3` job running.
    for (const r of all().filter((x) => x.output.title === interrupted)) expect(r.conclusion).toBe("failure");
    expect(got.filter((g) => g.endsWith(" interrupted")).length).toBeGreaterThanOrEqual(KILLS);
    expect(github.violations).toEqual([]);
    expect(github.errors).toEqual([]);
  });
});
