import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandIn, waitFor, type CheckRunRecord, type GitHubStandIn } from "../support/github-stand-in.js";
import { e2eBudget, startApp, STEP_MS, type AppProcess } from "../support/app-process.js";
import { KubeStandIn } from "../support/kube-stand-in.js";
import { loadExample, sendWebhook, withInstallation } from "../support/webhooks.js";

/**
 * Issue 14, acceptance 2: a pipeline `build → test (matrix of 2) → deploy`, end to end (real app
 * process, GitHub stand-in; the restart on the Kubernetes stand-in, whose jobs go on while the
 * app is down). `build` fails on its first attempt when FAIL_BUILD_FIRST is set (YACI_ATTEMPT).
 */
const PIPELINE = (failFirst: boolean) => `
env:
  FAIL_BUILD_FIRST: "${failFirst ? "yes" : "no"}"
jobs:
  build:
    run: |
      echo "build attempt $YACI_ATTEMPT"
      sleep 1
      [ "$FAIL_BUILD_FIRST" != yes ] || [ "$YACI_ATTEMPT" -gt 1 ]
  test:
    needs: build
    matrix:
      node: ["20", "22"]
    run: echo "test on node \${{ matrix.node }} ($MATRIX_NODE)"
  deploy:
    needs: [test]
    run: echo deploy
`;
const JOBS = ["build", "deploy", "test (20)", "test (22)"];
const INSTALLATION = 1401;
const OWNER = "pipe-org";
const REPO = "service";

const STEP = {
  start: STEP_MS.appStart,
  stop: STEP_MS.appStop,
  /** A delivery answered. */
  deliver: 10_000,
  /** The whole pipeline run through (three stages, each a checkout and a short script, plus the writes). */
  pipeline: 60_000,
};

let github: GitHubStandIn;
let app: AppProcess | undefined;
let seq = 0;

beforeAll(async () => {
  github = await startGitHubStandIn();
  github.addInstallation(INSTALLATION, { account: OWNER });
  github.setPermission(OWNER, REPO, "maintainer", "write");
});
afterAll(async () => {
  await github.close();
});
afterEach(async () => {
  if (app) await app.stop();
  app = undefined;
});

function repository(example: { repository: Record<string, unknown> & { owner: Record<string, unknown> } }) {
  return { ...example.repository, id: github.repoId(OWNER, REPO), name: REPO, full_name: `${OWNER}/${REPO}`, owner: { ...example.repository.owner, login: OWNER, name: OWNER } };
}

function commit(config: string): string {
  const sha = (++seq).toString(16).padStart(8, "0") + "ab".repeat(16);
  github.setFiles(OWNER, REPO, sha, { ".yaci.yml": config });
  return sha;
}

function pushPayload(sha: string) {
  const example = withInstallation(loadExample("push", (p) => p.ref.startsWith("refs/heads/") && !p.deleted), INSTALLATION);
  return { ...example, ref: `refs/heads/pipe-${seq}`, after: sha, repository: repository(example as never) };
}

function prPayload(number: number, sha: string) {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const p: any = withInstallation(loadExample("pull_request", (x) => x.action === "opened"), INSTALLATION);
  p.number = number;
  p.repository = repository(p);
  p.pull_request = { ...p.pull_request, number, user: { ...p.pull_request.user, login: "maintainer" } };
  p.pull_request.head = { ...p.pull_request.head, sha, repo: p.repository };
  p.pull_request.base = { ...p.pull_request.base, repo: p.repository };
  github.setPull(OWNER, REPO, number, p.pull_request);
  return p;
}

function commentPayload(number: number, body: string) {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const p: any = withInstallation(loadExample("issue_comment", (x) => x.action === "created"), INSTALLATION);
  p.repository = repository(p);
  p.issue = { ...p.issue, number, pull_request: { url: `https://api.github.com/repos/${OWNER}/${REPO}/pulls/${number}`, html_url: `https://github.com/${OWNER}/${REPO}/pull/${number}` } };
  const at = new Date().toISOString();
  p.comment = { ...p.comment, id: 5000 + seq, body, created_at: at, updated_at: at, user: { ...p.comment.user, login: "maintainer", type: "User" } };
  p.sender = { ...p.sender, login: "maintainer", type: "User" };
  return p;
}

const runsOf = (sha: string) => github.checkRunsFor(OWNER, REPO, sha).filter((r) => r.name !== "yaci");
const latest = (sha: string) => {
  const by = new Map<string, CheckRunRecord>();
  for (const r of runsOf(sha)) if (!by.has(r.name) || by.get(r.name)!.id < r.id) by.set(r.name, r);
  return by;
};
const title = (h: Record<string, unknown>) => String((h.output as { title?: unknown } | undefined)?.title ?? "");
const completedWrites = (r: CheckRunRecord) => r.history.filter((h) => h.status === "completed").length;

async function allCompleted(sha: string, count: number, timeoutMs: number) {
  return waitFor(() => (runsOf(sha).length === count && runsOf(sha).every((r) => r.status === "completed") ? runsOf(sha) : undefined), {
    timeoutMs,
    intervalMs: 100,
    message: `${count} completed check runs for ${sha.slice(0, 8)} (now: ${JSON.stringify(runsOf(sha).map((r) => [r.name, r.status, r.conclusion]))})`,
  });
}

describe("pipelines: needs and matrix, end to end (issue 14)", () => {
  it(
    "all passing: every job's check run exists from the start; deploy starts only after both test combinations succeeded",
    { timeout: e2eBudget(STEP) },
    async () => {
      app = await startApp({ github, env: { YACI_CATCHUP_INTERVAL: "off" } });
      const sha = commit(PIPELINE(false));
      expect(await sendWebhook(app.webhookUrl, { event: "push", payload: pushPayload(sha), secret: app.webhookSecret })).toBe(202);
      await allCompleted(sha, 4, STEP.deliver + STEP.pipeline);
      const runs = latest(sha);
      expect([...runs.keys()].sort()).toEqual(JOBS);
      for (const [name, r] of runs) {
        expect(r, name).toMatchObject({ status: "completed", conclusion: "success" });
        expect(completedWrites(r), name).toBe(1);
      }
      const build = runs.get("build")!;
      // The dependents were on the pull request from the start, saying what they wait for.
      for (const name of ["test (20)", "test (22)"]) {
        const r = runs.get(name)!;
        expect(Date.parse(r.created_at)).toBeLessThanOrEqual(Date.parse(build.completed_at!));
        expect(title(r.history[0]!)).toBe("Waiting for `build`");
        expect(Date.parse(r.started_at!)).toBeGreaterThanOrEqual(Date.parse(build.completed_at!));
      }
      const deploy = runs.get("deploy")!;
      expect(title(deploy.history[0]!)).toMatch(/^Waiting for `(build|test \(20\)|test \(22\))`/);
      const testsDone = Math.max(...["test (20)", "test (22)"].map((n) => Date.parse(runs.get(n)!.completed_at!)));
      expect(Date.parse(deploy.started_at!)).toBeGreaterThanOrEqual(testsDone);
      // Each combination saw its own value, substituted and as MATRIX_NODE.
      expect(runs.get("test (20)")!.output.text).toContain("test on node 20 (20)");
      expect(runs.get("test (22)")!.output.text).toContain("test on node 22 (22)");
      expect(github.violations).toEqual([]);
    },
  );

  it(
    "build failing: test and deploy complete as skipped with the reason; /retest re-runs build and the jobs it skipped",
    { timeout: e2eBudget({ ...STEP, retest: STEP.deliver + STEP.pipeline }) },
    async () => {
      app = await startApp({ github, env: { YACI_CATCHUP_INTERVAL: "off" } });
      const sha = commit(PIPELINE(true));
      const pr = 40 + seq;
      expect(await sendWebhook(app.webhookUrl, { event: "pull_request", payload: prPayload(pr, sha), secret: app.webhookSecret })).toBe(202);
      await allCompleted(sha, 4, STEP.deliver + STEP.pipeline);
      let runs = latest(sha);
      expect(runs.get("build")).toMatchObject({ conclusion: "failure" });
      expect(runs.get("test (20)")).toMatchObject({ conclusion: "skipped", output: { title: "Skipped: `build` failed" } });
      expect(runs.get("test (22)")).toMatchObject({ conclusion: "skipped", output: { title: "Skipped: `build` failed" } });
      expect(runs.get("deploy")).toMatchObject({ conclusion: "skipped" });
      expect(runs.get("deploy")!.output.title).toMatch(/^Skipped: `test \(2[02]\)` was skipped$/);
      // A skipped job never ran: no start time of its own beyond its end.
      expect(runs.get("test (20)")!.history.some((h) => h.status === "in_progress")).toBe(false);

      expect(await sendWebhook(app.webhookUrl, { event: "issue_comment", payload: commentPayload(pr, "/retest"), secret: app.webhookSecret })).toBe(202);
      await allCompleted(sha, 8, STEP.deliver + STEP.pipeline);
      runs = latest(sha);
      for (const [name, r] of runs) {
        expect(r, name).toMatchObject({ status: "completed", conclusion: "success" });
        expect(completedWrites(r), name).toBe(1);
      }
      // Two check runs per job: the first attempt's and the re-run's, each completed once.
      for (const name of JOBS) expect(runsOf(sha).filter((r) => r.name === name), name).toHaveLength(2);
      expect(runs.get("build")!.output.text).toContain("build attempt 2");
      expect(github.violations).toEqual([]);
    },
  );
});

describe("pipelines across a restart, on Kubernetes (issue 14)", () => {
  let kube: KubeStandIn;
  let kubeconfig: string;
  beforeAll(async () => {
    kube = await KubeStandIn.start();
    kubeconfig = kube.writeKubeconfig(mkdtempSync(join(tmpdir(), "yaci-pipe-kube-")));
  });
  afterAll(async () => {
    await kube.close();
  });
  const env = () => ({ YACI_EXECUTOR: "kubernetes", KUBECONFIG: kubeconfig, YACI_CATCHUP_INTERVAL: "off" });
  const jobOf = (sha: string, job: string) =>
    kube.list("jobs").find((j) => j.metadata.annotations?.["yaci.dev/sha"] === sha && j.metadata.annotations?.["yaci.dev/job"] === job)?.metadata.name as string | undefined;
  const podOf = (sha: string, job: string, timeoutMs: number) =>
    waitFor(() => {
      const name = jobOf(sha, job);
      return name && kube.kubelet.pod(name) ? name : undefined;
    }, { timeoutMs, message: `the pod of ${job}@${sha.slice(0, 8)}` });

  it(
    "the app killed while build runs: build ends meanwhile; after the restart the graph goes on, each job reported once",
    { timeout: e2eBudget({ ...STEP, start2: STEP.start, jobs: 4 * 30_000 }) },
    async () => {
      app = await startApp({ github, env: env() });
      const sha = commit(PIPELINE(false));
      expect(await sendWebhook(app.webhookUrl, { event: "push", payload: pushPayload(sha), secret: app.webhookSecret })).toBe(202);
      const build = await podOf(sha, "build", 30_000);
      await waitFor(() => runsOf(sha).length === 4 || undefined, { timeoutMs: 30_000, message: "four check runs" });
      // A dependent's Job is created only when it may start.
      expect(jobOf(sha, "test (20)")).toBeUndefined();
      expect(jobOf(sha, "deploy")).toBeUndefined();

      const dataDir = app.dataDir;
      await app.kill();
      app = undefined;
      kube.kubelet.succeed(build, "built\n");
      app = await startApp({ github, env: env(), dataDir });

      const tests = await Promise.all(["test (20)", "test (22)"].map((j) => podOf(sha, j, 30_000)));
      expect(jobOf(sha, "deploy")).toBeUndefined();
      for (const t of tests) kube.kubelet.succeed(t, "tested\n");
      const deploy = await podOf(sha, "deploy", 30_000);
      kube.kubelet.succeed(deploy, "deployed\n");
      await allCompleted(sha, 4, 30_000);
      for (const [name, r] of latest(sha)) {
        expect(r, name).toMatchObject({ status: "completed", conclusion: "success" });
        expect(completedWrites(r), name).toBe(1);
      }
      expect(runsOf(sha)).toHaveLength(4);
      expect(github.violations).toEqual([]);
    },
  );
});
