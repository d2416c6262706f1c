import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandIn, waitFor, type GitHubStandIn, type CheckRunRecord } from "../support/github-stand-in.js";
import { e2eBudget, startApp, STEP_MS, type AppProcess } from "../support/app-process.js";
import { loadExample, sendWebhook, withInstallation } from "../support/webhooks.js";

const INSTALLATION = 4242;
let github: GitHubStandIn;
let app: AppProcess | undefined;
let shaCounter = 0;

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

/** A fresh commit of Codertocat/Hello-World holding `files`, and a push payload for it. */
function commit(files: Record<string, string>, branch = `branch-${shaCounter + 1}`) {
  const sha = (++shaCounter).toString(16).padStart(8, "0") + "c0ffee".repeat(5) + "ab";
  const payload = withInstallation(loadExample("push", (p) => p.ref.startsWith("refs/heads/") && !p.deleted), INSTALLATION);
  payload.after = sha;
  payload.ref = `refs/heads/${branch}`; // each on its own branch: a push supersedes its branch's older runs
  const { login: owner } = payload.repository.owner as { login: string };
  const repo = payload.repository.name;
  github.setFiles(owner, repo, sha, files);
  return { sha, owner, repo, payload };
}

async function push(files: Record<string, string>) {
  const c = commit(files);
  const status = await sendWebhook(app!.webhookUrl, { event: "push", payload: c.payload, secret: app!.webhookSecret });
  expect(status).toBe(202);
  return c;
}

/** Budgets (ms) of this file's steps; each test's timeout is the sum of the steps it takes. */
const STEP = {
  start: STEP_MS.appStart,
  stop: STEP_MS.appStop,
  /** A delivery answered (202) by the app. */
  push: 20_000,
  /** A pushed commit's check runs all completed (config read, checkout, the job, three writes). */
  complete: 60_000,
  /** A run reaches in_progress, or its log shows a line. */
  progress: 40_000,
  /** A stored delivery handled by the inbox worker. */
  handled: 30_000,
};

const completed = (owner: string, repo: string, sha: string, n = 1) =>
  waitFor(
    () => {
      const runs = github.checkRunsFor(owner, repo, sha);
      return runs.length >= n && runs.every((r) => r.status === "completed") ? runs : undefined;
    },
    { timeoutMs: STEP.complete, message: `check runs of ${sha} to complete` },
  );

/**
 * The awaited signal that the app has taken in everything sent before: a fresh commit pushed now
 * is handled and its check run completes (deliveries are handled in order, after recovery).
 */
async function sentinel(): Promise<void> {
  const c = await push({ ".yaci.yml": "run: echo sentinel\n" });
  await completed(c.owner, c.repo, c.sha);
}

const statuses = (r: CheckRunRecord) => r.history.map((h) => h.status);
/**
 * The states a check run went through, in order and without a step back. A job that starts before
 * its queued write goes out is created in_progress (issue 18: GitHub shows the same, for one write
 * less), so "queued" may be skipped; "in_progress" and "completed" never are for a job that ran.
 */
const RAN = [["queued", "in_progress", "completed"], ["in_progress", "completed"]];

describe("end to end: a real app process, a signed webhook, the GitHub stand-in", () => {
  it("push → (queued →) in_progress → completed success, with the command's output, using a repo-scoped read token", { timeout: e2eBudget({ start: STEP.start, push: STEP.push, complete: STEP.complete }) }, async () => {
    app = await startApp({ github });
    const { owner, repo, sha } = await push({ ".yaci.yml": "image: alpine:3.20\nrun: cat hello.txt && echo great success\n", "hello.txt": "hello from the commit\n" });
    const [run] = await completed(owner, repo, sha);
    expect(run).toMatchObject({ name: "build", conclusion: "success", head_sha: sha });
    expect(RAN).toContainEqual(statuses(run!));
    expect(run!.output.title).toMatch(/^Passed in \d+(\.\d)?s$/);
    expect(run!.output.text).toContain("hello from the commit\ngreat success\n");
    expect(run!.output.summary).toContain("`alpine:3.20` (not used: the local executor runs the job on the host)");
    expect(run!.started_at).toBeTruthy();
    // The checkout used a token for this one repository with contents: read, nothing more.
    const { token } = github.tarballDownloads.find((d) => d.sha === sha)!;
    expect(token.repositories).toEqual([repo]);
    expect(token.permissions).toEqual({ contents: "read", metadata: "read" });
    expect(github.violations).toEqual([]);
  });

  it("a failing command ends as failure with its exit code; a slow one times out", { timeout: e2eBudget({ start: STEP.start, push1: STEP.push, push2: STEP.push, complete1: STEP.complete, complete2: STEP.complete }) }, async () => {
    app = await startApp({ github });
    const failing = await push({ ".yaci.yml": "jobs:\n  test:\n    run: |\n      echo checking\n      exit 3\n" });
    const slow = await push({ ".yaci.yml": "jobs:\n  slow:\n    timeout: 2s\n    run: echo started; sleep 60\n" });
    const [f] = await completed(failing.owner, failing.repo, failing.sha);
    expect(f).toMatchObject({ name: "test", conclusion: "failure" });
    expect(f!.output.title).toMatch(/^Failed: exit code 3 after \d+(\.\d)?s$/);
    expect(f!.output.text).toContain("checking");
    const [s] = await completed(slow.owner, slow.repo, slow.sha);
    expect(s).toMatchObject({ name: "slow", conclusion: "timed_out" });
    expect(s!.output.title).toBe("Timed out after 2s");
    expect(s!.output.text).toContain("started");
    expect(github.violations).toEqual([]);
  });

  it("a broken .yaci.yml gives one failed check run named yaci quoting the line", { timeout: e2eBudget({ start: STEP.start, push: STEP.push, complete: STEP.complete }) }, async () => {
    app = await startApp({ github });
    const { owner, repo, sha } = await push({ ".yaci.yml": "jobs:\n  test:\n    runs: npm test\n" });
    const [c] = await completed(owner, repo, sha);
    expect(c).toMatchObject({ name: "yaci", conclusion: "failure" });
    expect(c!.output.summary).toContain("runs: npm test");
    expect(c!.output.summary).toMatch(/line 3/);
    expect(github.checkRunsFor(owner, repo, sha)).toHaveLength(1);
  });

  it("a pull_request.opened on a SHA already pushed adds no check runs", { timeout: e2eBudget({ start: STEP.start, push1: STEP.push, push2: STEP.push, complete: STEP.complete, handled: STEP.handled }) }, async () => {
    app = await startApp({ github });
    const { owner, repo, sha } = await push({ ".yaci.yml": "run: echo once\n" });
    const pr = withInstallation(loadExample("pull_request", (p) => p.action === "opened"), INSTALLATION);
    pr.pull_request.head.sha = sha;
    // 202: stored; the check below waits until the inbox worker has handled it.
    expect(await sendWebhook(app.webhookUrl, { event: "pull_request", payload: pr, secret: app.webhookSecret, deliveryId: "pr-on-pushed-sha" })).toBe(202);
    await completed(owner, repo, sha);
    await app.waitForHandled("pr-on-pushed-sha");
    expect(github.checkRunsFor(owner, repo, sha).map((r) => r.name)).toEqual(["build"]);
  });

  it("a webhook with a bad signature is refused and runs nothing", { timeout: e2eBudget({ start: STEP.start, refused: STEP.push, sentinelPush: STEP.push, sentinel: STEP.complete }) }, async () => {
    // Catch-up off: it would (rightly) ask GitHub to redeliver the refused delivery.
    app = await startApp({ github, env: { YACI_CATCHUP_INTERVAL: "off" } });
    const c = commit({ ".yaci.yml": "run: echo should not run\n" });
    const status = await sendWebhook(app.webhookUrl, { event: "push", payload: c.payload, secret: app.webhookSecret, badSignature: true });
    expect(status).toBeGreaterThanOrEqual(400);
    await sentinel(); // a later, valid delivery ran to the end: the refused one had its chance
    expect(github.checkRunsFor(c.owner, c.repo, c.sha)).toEqual([]);
    expect(github.requests.filter((r) => r.path.includes(c.sha))).toEqual([]);
  });

  it(
    "killing the app mid-run and starting it again reports the run as interrupted, exactly once",
    {
      timeout: e2eBudget({
        start1: STEP.start,
        push: STEP.push,
        inProgress: STEP.progress,
        logged: STEP.progress,
        kill: STEP.stop,
        start2: STEP.start,
        interrupted: STEP.complete,
        stop: STEP.stop,
        start3: STEP.start,
        sentinelPush: STEP.push,
        sentinel: STEP.complete,
      }),
    },
    async () => {
    app = await startApp({ github });
    const { owner, repo, sha } = await push({ ".yaci.yml": "run: echo working; sleep 120\n" });
    const running = await waitFor(() => github.checkRunsFor(owner, repo, sha).find((r) => r.status === "in_progress"), { timeoutMs: STEP.progress });
    const dataDir = app.dataDir;
    const logFile = join(dataDir, "logs", `${running.external_id}.log`);
    await waitFor(() => existsSync(logFile) && readFileSync(logFile, "utf8").includes("working"), { timeoutMs: STEP.progress });
    await app.kill();
    app = await startApp({ github, dataDir });
    const [run] = await completed(owner, repo, sha);
    expect(run).toMatchObject({ conclusion: "failure" });
    expect(run!.output.title).toBe("Failed: interrupted: the runner restarted");
    expect(run!.output.text).toContain("working");
    await app.stop();
    app = await startApp({ github, dataDir });
    await sentinel(); // the restarted app recovered (at start) and then ran a new commit to the end
    expect(RAN).toContainEqual(statuses(run!));
    expect(github.checkRunsFor(owner, repo, sha)).toHaveLength(1);
  },
  );
});
