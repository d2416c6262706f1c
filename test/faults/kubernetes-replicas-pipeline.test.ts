import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandIn, waitFor, type CheckRunRecord, type GitHubStandIn } from "../support/github-stand-in.js";
import { e2eBudget, startApp, STEP_MS, type AppProcess } from "../support/app-process.js";
import { KubeStandIn } from "../support/kube-stand-in.js";
import { loadExample, sendWebhook, withInstallation } from "../support/webhooks.js";

/**
 * Issue 14 on a cluster shared by two replicas: a pipeline `build → test (matrix of 2) → deploy`,
 * every push delivered to BOTH real app processes (own data dirs, one Kubernetes API stand-in, one
 * GitHub stand-in), in varying order and timing. The replica whose claim of `build` wins owns the
 * commit's whole pipeline; the other forgets the commit before showing anything. The stand-in's
 * kubelet ends the pods; one commit's build fails.
 */
const PIPELINE = `
jobs:
  build:
    run: make
  test:
    needs: build
    matrix:
      node: ["20", "22"]
    run: make test
  deploy:
    needs: [test]
    run: make deploy
`;
const JOBS = ["build", "deploy", "test (20)", "test (22)"];
const TESTS = ["test (20)", "test (22)"];
const INSTALLATION = 1402;
const OWNER = "replica-org";
const REPO = "pipeline";

const STEP = {
  /** Both apps start at once. */
  start: STEP_MS.appStart,
  /** The deliveries answered (all commits at once). */
  deliver: 10_000,
  /** Each stage's pods appear (the commits go on in parallel): build, tests, deploy. */
  build: 20_000,
  tests: 20_000,
  deploy: 20_000,
  /** The last results written to GitHub. */
  report: 20_000,
};

/** The second case delivers twice before driving the pods. */
const STEP_OLDER_NEWER = { ...STEP, deliverNext: STEP.deliver };

let github: GitHubStandIn;
let kube: KubeStandIn;
let kubeDir: string;
const apps: AppProcess[] = [];

beforeAll(async () => {
  github = await startGitHubStandIn();
  github.addInstallation(INSTALLATION, { account: OWNER });
  kube = await KubeStandIn.start();
  kubeDir = mkdtempSync(join(tmpdir(), "yaci-replicas-pipe-kube-"));
});
afterEach(async () => {
  kube.beforeCreate = undefined;
  for (const app of apps.splice(0)) {
    await app.stop();
    app.removeDataDir();
  }
});
afterAll(async () => {
  await kube?.close();
  await github?.close();
  if (kubeDir) rmSync(kubeDir, { recursive: true, force: true });
});

let seq = 0;
function commit(): string {
  const sha = (++seq).toString(16).padStart(2, "0") + "cd".repeat(19); // distinct 7-character prefixes (run ids)
  github.setFiles(OWNER, REPO, sha, { ".yaci.yml": PIPELINE });
  return sha;
}

/** A push of `sha` to its own branch (no commit supersedes another). */
function pushPayload(sha: string, n: number) {
  const example = withInstallation(loadExample("push", (p) => p.ref.startsWith("refs/heads/") && !p.deleted), INSTALLATION);
  const repository = { ...example.repository, id: github.repoId(OWNER, REPO), name: REPO, full_name: `${OWNER}/${REPO}`, owner: { ...example.repository.owner, login: OWNER, name: OWNER } };
  return { ...example, ref: `refs/heads/replica-${n}`, after: sha, repository };
}

/** The same delivery (same id, same body) to one app, as GitHub sends it. */
async function deliver(app: AppProcess, payload: unknown, deliveryId: string) {
  expect(await sendWebhook(app.webhookUrl, { event: "push", payload, secret: app.webhookSecret, deliveryId })).toBe(202);
}

const jobOf = (sha: string, job: string) =>
  kube.list("jobs").find((j) => j.metadata.annotations?.["yaci.dev/sha"] === sha && j.metadata.annotations?.["yaci.dev/job"] === job)?.metadata.name as string | undefined;
const podOf = (sha: string, job: string, timeoutMs: number) =>
  waitFor(
    () => {
      const name = jobOf(sha, job);
      return name && kube.kubelet.pod(name) ? name : undefined;
    },
    { timeoutMs, intervalMs: 50, message: `the pod of ${job}@${sha.slice(0, 8)}` },
  );

const runsOf = (sha: string) => github.checkRunsFor(OWNER, REPO, sha);
const completedWrites = (r: CheckRunRecord) => r.history.filter((h) => h.status === "completed").length;
const states = (sha: string) => JSON.stringify(runsOf(sha).map((r) => [r.name, r.status, r.conclusion]));

/** Two app processes on the same cluster and GitHub, each with its own data dir. */
async function replicas(): Promise<[AppProcess, AppProcess]> {
  const env = { YACI_EXECUTOR: "kubernetes", KUBECONFIG: kube.writeKubeconfig(kubeDir), YACI_CATCHUP_INTERVAL: "off" };
  const started = await Promise.all([startApp({ github, env }), startApp({ github, env })]);
  apps.push(...started);
  return started as [AppProcess, AppProcess];
}

/** Every check run of `sha` completed, one per job. */
const allCompleted = (sha: string, timeoutMs: number) =>
  waitFor(() => (runsOf(sha).length === JOBS.length && runsOf(sha).every((r) => r.status === "completed")) || undefined, {
    timeoutMs,
    intervalMs: 100,
    message: `${JOBS.length} completed check runs for ${sha.slice(0, 8)} (now: ${states(sha)})`,
  });

describe("a pipeline on two replicas sharing one cluster (issue 14)", () => {
  it(
    "each push to both: one replica runs the whole pipeline; one check run per job, completed once; skipped dependents get no Job",
    { timeout: e2eBudget(STEP) },
    async () => {
      const [A, B] = await replicas();

      const shas = [commit(), commit(), commit(), commit(), commit()];
      const failing = shas[2]!;
      const testFails = shas[4]!;
      const payloads = shas.map((sha, i) => pushPayload(sha, i));
      const ids = shas.map((_, i) => `replica-pipe-${i}-${Date.now()}`);

      /** Drives one commit's pods to the end (build fails for `failing`); `afterTests` runs once the tests' pods exist. */
      const drive = async (sha: string, afterTests?: () => Promise<void>) => {
        const build = await podOf(sha, "build", STEP.deliver + STEP.build);
        if (sha === failing) return kube.kubelet.fail(build, 2, "make: *** [build] Error 2\n");
        kube.kubelet.succeed(build, "built\n");
        const tests = await Promise.all(TESTS.map((t) => podOf(sha, t, STEP.tests)));
        // A dependent's Job is created only when it may start.
        expect(jobOf(sha, "deploy"), sha).toBeUndefined();
        await afterTests?.();
        if (sha === testFails) {
          kube.kubelet.fail(tests[0]!, 1, "1 failing\n");
          kube.kubelet.succeed(tests[1]!, "tested\n");
          return;
        }
        for (const t of tests) kube.kubelet.succeed(t, "tested\n");
        kube.kubelet.succeed(await podOf(sha, "deploy", STEP.deploy), "deployed\n");
      };

      await Promise.all([
        // 1: A, then B once A answered.
        (async () => {
          await deliver(A, payloads[0], ids[0]!);
          await deliver(B, payloads[0], ids[0]!);
          await drive(shas[0]!);
        })(),
        // 2: B first, A right behind it (both in flight at once).
        (async () => {
          await Promise.all([deliver(B, payloads[1], ids[1]!), deliver(A, payloads[1], ids[1]!)]);
          await drive(shas[1]!);
        })(),
        // 3 (build fails): both at the same moment.
        (async () => {
          await Promise.all([deliver(A, payloads[2], ids[2]!), deliver(B, payloads[2], ids[2]!)]);
          await drive(shas[2]!);
        })(),
        // 4: A alone; B gets the push late, while the tests run (a redelivery, a slow replica).
        (async () => {
          await deliver(A, payloads[3], ids[3]!);
          await drive(shas[3]!, async () => {
            await deliver(B, payloads[3], ids[3]!);
            await B.waitForHandled(ids[3]!, { timeoutMs: STEP.deliver });
            // B tried `build`, met A's Job (409) and forgot the commit.
            await B.waitForLog((l) => l.msg === "job already created elsewhere: left to its creator" && String(l.runId).includes(shas[3]!.slice(0, 7)), { timeoutMs: STEP.deliver });
          });
        })(),
        // 5 (test (20) fails): B alone until its build's pod exists; then A.
        (async () => {
          await deliver(B, payloads[4], ids[4]!);
          await podOf(shas[4]!, "build", STEP.deliver + STEP.build);
          await deliver(A, payloads[4], ids[4]!);
          await A.waitForHandled(ids[4]!, { timeoutMs: STEP.deliver });
          await drive(shas[4]!);
        })(),
      ]);

      // Every delivery handled by both, and each commit's loser has let it go (below), before judging.
      await Promise.all(ids.flatMap((id) => [A, B].map((app) => app.waitForHandled(id, { timeoutMs: STEP.report }))));
      const leftBy = (app: AppProcess) => app.jsonLogs().filter((l) => l.msg === "job already created elsewhere: left to its creator").map((l) => String(l.runId));
      await waitFor(() => leftBy(A).length + leftBy(B).length >= shas.length || undefined, { timeoutMs: STEP.report, message: "a loser per commit" });
      for (const sha of shas) await allCompleted(sha, STEP.report);

      for (const sha of shas) {
        const runs = runsOf(sha);
        expect(runs.map((r) => r.name).sort(), states(sha)).toEqual(JOBS);
        for (const r of runs) expect(completedWrites(r), `${r.name}@${sha.slice(0, 8)}`).toBe(1);
        const by = new Map(runs.map((r) => [r.name, r]));
        if (sha === failing) {
          expect(by.get("build")).toMatchObject({ status: "completed", conclusion: "failure" });
          for (const t of TESTS) expect(by.get(t), t).toMatchObject({ status: "completed", conclusion: "skipped", output: { title: "Skipped: `build` failed" } });
          expect(by.get("deploy")).toMatchObject({ status: "completed", conclusion: "skipped" });
          expect(by.get("deploy")!.output.title).toMatch(/^Skipped: `test \(2[02]\)` was skipped$/);
          // Skipped jobs never reached the cluster.
          for (const j of [...TESTS, "deploy"]) expect(jobOf(sha, j), j).toBeUndefined();
          expect(jobOf(sha, "build")).toBeDefined();
        } else if (sha === testFails) {
          expect(by.get("build")).toMatchObject({ status: "completed", conclusion: "success" });
          expect(by.get("test (20)")).toMatchObject({ status: "completed", conclusion: "failure" });
          expect(by.get("test (22)")).toMatchObject({ status: "completed", conclusion: "success" });
          expect(by.get("deploy")).toMatchObject({ status: "completed", conclusion: "skipped", output: { title: "Skipped: `test (20)` failed" } });
          expect(by.get("deploy")!.history.some((h) => h.status === "in_progress")).toBe(false);
          expect(jobOf(sha, "deploy")).toBeUndefined();
          for (const j of ["build", ...TESTS]) expect(jobOf(sha, j), j).toBeDefined();
        } else {
          for (const r of runs) expect(r, r.name).toMatchObject({ status: "completed", conclusion: "success" });
          for (const j of JOBS) expect(jobOf(sha, j), j).toBeDefined();
        }
      }
      // One Job per run that ran, and no other: build 5×, each test 4×, deploy 3×.
      const jobs = kube.list("jobs").filter((j) => shas.includes(j.metadata.annotations?.["yaci.dev/sha"]));
      expect(jobs).toHaveLength(5 + 2 * 4 + 3);
      // None was deleted and created again; the loser asked at most for `build` (a 409), or not at all
      // when its watch had already seen that Job finish.
      expect(kube.count("delete", "jobs")).toBe(0);
      expect(kube.count("create", "jobs")).toBeLessThanOrEqual(2 * 5 + 2 * 4 + 3);
      // The losing replica of each commit logged its 409 on `build` and nothing else.
      const left = [...leftBy(A), ...leftBy(B)];
      expect(left).toHaveLength(shas.length);
      for (const sha of shas) expect(left.filter((id) => id.includes(sha.slice(0, 7))), sha).toHaveLength(1);
      expect(github.violations).toEqual([]);
    },
  );

  it(
    "a newer push on the branch while both replicas claim the older commit's build: the older pipeline is cancelled once, by its owner",
    { timeout: e2eBudget(STEP_OLDER_NEWER) },
    async () => {
      const [A, B] = await replicas();
      const older = commit();
      const newer = commit();
      const branch = 100 + seq;
      // Both replicas' creates of the older build's Job wait here until both were sent.
      const held: Array<() => void> = [];
      kube.beforeCreate = async (resource, body) => {
        if (resource === "jobs" && body.metadata?.annotations?.["yaci.dev/sha"] === older) await new Promise<void>((resolve) => held.push(resolve));
      };
      const olderId = `replica-older-${Date.now()}`;
      const newerId = `replica-newer-${Date.now()}`;
      await Promise.all([deliver(A, pushPayload(older, branch), olderId), deliver(B, pushPayload(older, branch), olderId)]);
      await waitFor(() => held.length === 2 || undefined, { timeoutMs: STEP.deliver, message: "both replicas' claims of the older build" });
      // The newer push reaches both while neither knows yet whose the older commit is.
      await Promise.all([deliver(A, pushPayload(newer, branch), newerId), deliver(B, pushPayload(newer, branch), newerId)]);
      await Promise.all([A, B].map((app) => app.waitForHandled(newerId, { timeoutMs: STEP_OLDER_NEWER.deliverNext })));
      kube.beforeCreate = undefined;
      for (const release of held) release();

      const build = await podOf(newer, "build", STEP.build);
      kube.kubelet.succeed(build, "built\n");
      const tests = await Promise.all(TESTS.map((t) => podOf(newer, t, STEP.tests)));
      for (const t of tests) kube.kubelet.succeed(t, "tested\n");
      kube.kubelet.succeed(await podOf(newer, "deploy", STEP.deploy), "deployed\n");
      await allCompleted(newer, STEP.report);
      await allCompleted(older, STEP.report);

      for (const r of runsOf(newer)) expect(r, r.name).toMatchObject({ status: "completed", conclusion: "success" });
      const runs = runsOf(older);
      expect(runs.map((r) => r.name).sort(), states(older)).toEqual(JOBS);
      for (const r of runs) expect(completedWrites(r), r.name).toBe(1);
      const by = new Map(runs.map((r) => [r.name, r]));
      expect(by.get("build")).toMatchObject({ conclusion: "cancelled" });
      // Its dependents end without a Job of their own: cancelled, or skipped when build's end decided them first.
      for (const j of [...TESTS, "deploy"]) expect(["cancelled", "skipped"], j).toContain(by.get(j)!.conclusion);
      for (const j of [...TESTS, "deploy"]) expect(jobOf(older, j), j).toBeUndefined();
      // The older build's Job was created once (one 409) and deleted by its owner's cancel.
      await waitFor(() => !jobOf(older, "build") || undefined, { timeoutMs: STEP.report, message: "the older build's Job deleted" });
      expect(github.violations).toEqual([]);
    },
  );
});
