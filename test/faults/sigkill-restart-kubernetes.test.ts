import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mulberry32, startGitHubStandIn, waitFor, type GitHubStandIn, type RecordedRequest } from "../support/github-stand-in.js";
import { e2eBudget, startApp, STEP_MS, type AppProcess } from "../support/app-process.js";
import { KubeStandIn } from "../support/kube-stand-in.js";
import { loadExample, withInstallation } from "../support/webhooks.js";

/**
 * The real app process (Kubernetes executor, against the API stand-in) killed with SIGKILL at
 * seeded moments while 50 runs come in and run, restarted on the same data directory each time.
 * Each life ends at a different kind of moment: right after the deliveries were answered (the
 * intake), at the k-th Job create, at the k-th Secret create or Job start, at the k-th check run
 * going in progress, at the k-th final check-run write (the request reaches the stand-in, which
 * carries it out; the app dies before it hears the answer), and at the k-th try of a `reported`
 * mark while the API answers those 503 (results on GitHub, their marks not yet on the Jobs).
 * The cluster keeps running meanwhile: a simulated kubelet starts each pod and ends it, after a
 * time drawn from a seeded PRNG (in the order the pods appear), with its job's scripted exit code.
 *
 * On Kubernetes a restart interrupts nothing (the Jobs run on): every run must end with exactly
 * one check run, completed with the conclusion its job earned, and every Job must carry the mark
 * that its result was reported. Replay a failure with `YACI_SIGKILL_SEED=<seed>`.
 */

const SEED = Number(process.env.YACI_SIGKILL_SEED ?? 0x5eed_0b11);
const INSTALLATION = 4646;
/** Runs spread over installations: GitHub's write budget (80 a minute) is per installation. */
const INSTALLATIONS = 5;
const PUSHES = 10;
/** The jobs of every push: the exit code each pod is scripted to end with, and the conclusion it earns. */
const JOBS = [
  { name: "job0", exitCode: 0, conclusion: "success" },
  { name: "job1", exitCode: 0, conclusion: "success" },
  { name: "job2", exitCode: 1, conclusion: "failure" },
  { name: "job3", exitCode: 0, conclusion: "success" },
  { name: "job4", exitCode: 2, conclusion: "failure" },
] as const;
const CONFIG = "jobs:\n" + JOBS.map((j) => `  ${j.name}:\n    image: alpine:3.20\n    run: ./ci.sh ${j.name}\n`).join("");

/** What ends each life, in order; the first five lives each get two pushes, the sixth none. */
type KillAt = "intake" | "job-create" | "job-start" | "in-progress" | "final" | "mark";
const KILLS: Array<{ at: KillAt; max: number }> = [
  { at: "intake", max: 300 }, // ms after both deliveries were answered 202
  { at: "job-create", max: 10 }, // the k-th POST of a Job
  { at: "job-start", max: 15 }, // the k-th checkout Secret create or Job patch (start)
  { at: "in-progress", max: 5 }, // the k-th check-run write that says in_progress
  { at: "final", max: 5 }, // the k-th check-run write that says completed
  { at: "mark", max: 4 }, // the k-th Job patch, each answered 503, of a life with no new push (the `reported` marks)
];
const PUSH_LIVES = 5;

/** Budgets (ms) of this file's steps; the test's timeout is their sum. */
const STEP = {
  starts: (KILLS.length + 1) * STEP_MS.appStart,
  /** Each killed life: two deliveries answered 202 and its kill moment reached. */
  lives: KILLS.length * 30_000,
  /** The last life: every run's final check run written and its Job marked reported. */
  complete: 90_000,
  stop: STEP_MS.appStop,
};

let github: GitHubStandIn;
let kube: KubeStandIn;
let kubeDir: string;
let app: AppProcess | undefined;
let kubelet: NodeJS.Timeout | undefined;

beforeAll(async () => {
  github = await startGitHubStandIn();
  kube = await KubeStandIn.start();
  kubeDir = mkdtempSync(join(tmpdir(), "yaci-kill-kube-"));
});
afterAll(async () => {
  clearInterval(kubelet);
  if (app) await app.stop();
  app?.removeDataDir();
  await kube.close();
  await github.close();
  rmSync(kubeDir, { recursive: true, force: true });
});

/**
 * The cluster's kubelet, simulated: each new pod starts within 200 ms and ends after its seeded
 * duration with its job's exit code, whether or not the app is alive.
 */
function runKubelet(random: () => number): NodeJS.Timeout {
  const pods = new Map<string, { startAt: number; endAt?: number; durationMs: number }>();
  return setInterval(() => {
    const now = Date.now();
    for (const job of kube.list("jobs")) {
      const name = job.metadata.name as string;
      const pod = kube.kubelet.pod(name);
      if (!pod) continue;
      let p = pods.get(name);
      if (!p) pods.set(name, (p = { startAt: now + Math.floor(random() * 200), durationMs: 300 + Math.floor(random() * 1500) }));
      if (p.endAt === undefined && now >= p.startAt && pod.status.phase === "Pending") {
        kube.kubelet.run(name, { log: `running ${name}\n`, checkoutLog: "checked out\n" });
        p.endAt = now + p.durationMs;
      } else if (p.endAt !== undefined && now >= p.endAt && pod.status.phase === "Running") {
        const spec = JOBS.find((j) => j.name === job.metadata.annotations?.["yaci.dev/job"])!;
        kube.kubelet.exit(name, spec.exitCode, { log: `running ${name}\n${spec.exitCode === 0 ? "ok" : `exit ${spec.exitCode}`}\n` });
      }
    }
  }, 50);
}

describe(`SIGKILL at seeded moments during 50 runs on Kubernetes, restarted each time (seed 0x${SEED.toString(16)})`, () => {
  it("every run ends with one check run, completed as its job ended, and every Job is marked reported", { timeout: e2eBudget(STEP) }, async () => {
    const random = mulberry32(SEED);
    const seed = `seed 0x${SEED.toString(16)} (YACI_SIGKILL_SEED)`;
    const example = loadExample("push", (x) => x.ref.startsWith("refs/heads/") && !x.deleted);
    const repo = "service";
    const pushes = Array.from({ length: PUSHES }, (_, p) => {
      const owner = `kkill-org-${p % INSTALLATIONS}`;
      github.addInstallation(INSTALLATION + (p % INSTALLATIONS), { account: owner });
      const sha = (p + 1).toString(16).padStart(8, "0") + "beef1".repeat(6) + "ab";
      github.setFiles(owner, repo, sha, { ".yaci.yml": CONFIG });
      const payload = withInstallation(structuredClone(example), INSTALLATION + (p % INSTALLATIONS));
      payload.repository = { ...payload.repository, name: repo, full_name: `${owner}/${repo}`, owner: { ...payload.repository.owner, login: owner, name: owner } };
      // Each push on its own branch: a newer push does not supersede (cancel) another's runs.
      return { owner, sha, payload: { ...payload, ref: `refs/heads/kkill-${p}`, after: sha } };
    });
    const env = {
      YACI_EXECUTOR: "kubernetes",
      KUBECONFIG: kube.writeKubeconfig(kubeDir),
      YACI_CATCHUP_INTERVAL: "off",
      YACI_LIVE_LOG_INTERVAL: "off",
    };
    kubelet = runKubelet(mulberry32(SEED ^ 0x6b75));
    let dataDir: string | undefined;
    const killed: string[] = [];
    const lives: AppProcess[] = [];
    /** Writes every life's output to a directory (named in the failure message). */
    const saveLogs = () => {
      const dir = mkdtempSync(join(tmpdir(), `yaci-sigkill-k8s-${SEED.toString(16)}-`));
      lives.forEach((a, i) => writeFileSync(join(dir, `life-${i}.log`), a.logs().join("\n")));
      return dir;
    };
    /**
     * Pushes not yet answered 2xx: a kill that came while one was on its way leaves it unanswered,
     * and it is delivered again (same delivery id, as GitHub's redelivery) in the next life.
     */
    const undelivered: Array<{ p: (typeof pushes)[number]; guid: string; tries: number }> = [];
    const deliverAll = async (list: typeof undelivered) => {
      for (const d of [...list]) {
        const { status_code } = await github.deliver("push", d.p.payload, { deliveryId: d.guid, redelivery: d.tries++ > 0 });
        if (status_code === 0) return; // the app is gone: the rest wait for the next life
        expect([200, 202], `push ${d.p.sha.slice(0, 8)}: ${seed}`).toContain(status_code);
        list.splice(list.indexOf(d), 1);
      }
    };

    for (let life = 0; life < KILLS.length; life++) {
      const { at, max } = KILLS[life]!;
      const k = 1 + Math.floor(random() * max);
      kube.clearFaults(); // what the last life's kill moment needed
      const current = (app = await startApp({ github, env, ...(dataDir ? { dataDir } : {}) }));
      dataDir = current.dataDir;
      lives.push(current);
      github.setWebhookTarget(current.webhookUrl, current.webhookSecret);
      // The kill is armed before anything is delivered: the k-th matching request arrives, the app dies.
      let seen = 0;
      const kill = () => {
        process.kill(current.pid, "SIGKILL");
        kube.onRequest = undefined;
        github.onRequest = undefined;
      };
      const count = (matches: boolean) => {
        if (matches && ++seen === k) kill();
      };
      const jobsPath = /\/apis\/batch\/v1\/namespaces\/[^/]+\/jobs$/;
      const jobPath = /\/apis\/batch\/v1\/namespaces\/[^/]+\/jobs\/[^/]+$/;
      const checkWrite = (r: RecordedRequest, status: string) =>
        /\/check-runs(\/\d+)?$/.test(r.path) && (r.method === "POST" || r.method === "PATCH") && (r.body as { status?: string } | undefined)?.status === status;
      if (at === "job-create") kube.onRequest = (req) => count(req.method === "POST" && jobsPath.test(req.url?.split("?")[0] ?? ""));
      if (at === "job-start") kube.onRequest = (req) => count((req.method === "POST" && /\/secrets$/.test(req.url?.split("?")[0] ?? "")) || (req.method === "PATCH" && jobPath.test(req.url?.split("?")[0] ?? "")));
      if (at === "mark") {
        // The API refuses the marks for a while (503, retried): results reach GitHub, their marks wait.
        kube.failRequests(503, { match: (r) => r.method === "PATCH" && jobPath.test(r.path) });
        kube.onRequest = (req) => count(req.method === "PATCH" && jobPath.test(req.url?.split("?")[0] ?? ""));
      }
      if (at === "in-progress") github.onRequest = (r) => count(checkWrite(r, "in_progress"));
      if (at === "final") github.onRequest = (r) => count(checkWrite(r, "completed"));

      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      void current.exited.then((e) => (exit = e));
      if (life < PUSH_LIVES) undelivered.push(...pushes.slice(2 * life, 2 * life + 2).map((p) => ({ p, guid: randomUUID(), tries: 0 })));
      await deliverAll(undelivered);
      if (at === "intake") setTimeout(kill, k - 1);
      await waitFor(() => exit, {
        timeoutMs: STEP.lives / KILLS.length,
        intervalMs: 50,
        message: `life ${life} to end at ${at} #${k} (${seed}; killed so far: ${killed.join(", ")})`,
      }).catch((err: Error) => {
        throw new Error(`${err.message}; app logs: ${saveLogs()}`);
      });
      expect(exit).toMatchObject({ signal: "SIGKILL" });
      killed.push(`${at} #${k}`);
    }

    // The last life: nothing new is delivered (only what a kill left unanswered); what is left runs and is reported.
    kube.clearFaults();
    app = await startApp({ github, env, dataDir });
    lives.push(app);
    github.setWebhookTarget(app.webhookUrl, app.webhookSecret);
    await deliverAll(undelivered);
    expect(undelivered, seed).toEqual([]);
    const all = () => pushes.flatMap((p) => github.checkRunsFor(p.owner, repo, p.sha));
    const ourJobs = () => kube.list("jobs").filter((j) => pushes.some((p) => p.sha === j.metadata.annotations?.["yaci.dev/sha"]));
    const describeState = () =>
      `${seed}; kills: ${killed.join(", ")}; check runs: ${JSON.stringify(all().map((r) => [r.head_sha.slice(0, 8), r.name, r.status, r.conclusion, r.output.title]))}; ` +
      `Jobs not marked: ${JSON.stringify(ourJobs().filter((j) => j.metadata.annotations?.["yaci.dev/reported"] !== "true").map((j) => [j.metadata.name, j.spec.suspend, j.status]))}`;
    await waitFor(
      () =>
        all().length >= PUSHES * JOBS.length &&
        all().every((r) => r.status === "completed") &&
        ourJobs().length >= PUSHES * JOBS.length &&
        ourJobs().every((j) => j.metadata.annotations?.["yaci.dev/reported"] === "true"),
      { timeoutMs: STEP.complete, intervalMs: 100, message: `${PUSHES * JOBS.length} check runs to complete and their Jobs to be marked reported` },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; ${describeState()}; app logs: ${saveLogs()}`);
    });
    expect(await app.stop("SIGTERM", STEP.stop)).toMatchObject({ code: 0 });

    // Exactly one check run per (commit, job), completed as its job ended; a final result written
    // again after a kill (the app never heard GitHub's answer) says the same thing.
    const runs = pushes.flatMap((p) => JOBS.map((j) => ({ key: `${p.sha.slice(0, 8)} ${j.name}`, want: j.conclusion })));
    const got = all().map((r) => `${r.head_sha.slice(0, 8)} ${r.name}`);
    expect(got.sort(), describeState()).toEqual(runs.map((r) => r.key).sort());
    for (const r of runs) {
      const run = all().find((x) => `${x.head_sha.slice(0, 8)} ${x.name}` === r.key)!;
      expect(`${r.key} ${run.status} ${run.conclusion}`, describeState()).toBe(`${r.key} completed ${r.want}`);
      const finals = run.history.filter((h) => h.status === "completed" || h.conclusion !== undefined);
      expect(finals.map((h) => h.conclusion), `${r.key}: ${seed}`).toEqual(finals.map(() => r.want));
    }
    // The cluster: one Job per run, each created once and marked reported; nothing YACI forgot.
    const jobs = ourJobs();
    expect(jobs.map((j) => `${String(j.metadata.annotations["yaci.dev/sha"]).slice(0, 8)} ${j.metadata.annotations["yaci.dev/job"]}`).sort(), seed).toEqual(runs.map((r) => r.key).sort());
    for (const j of jobs) expect(j.metadata.annotations["yaci.dev/reported"], `${j.metadata.name}: ${seed}`).toBe("true");
    // Every checkout Secret belongs to one of those Jobs (none left behind by a Job made twice).
    const uids = new Set(jobs.map((j) => j.metadata.uid as string));
    for (const sec of kube.list("secrets")) expect(uids.has(sec.metadata.ownerReferences?.[0]?.uid), `Secret ${sec.metadata.name}: ${seed}`).toBe(true);
    expect(github.violations).toEqual([]);
    expect(github.errors).toEqual([]);
  });
});
