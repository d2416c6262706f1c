import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandIn, waitFor, type GitHubStandIn } from "../support/github-stand-in.js";
import { e2eBudget, startApp, STEP_MS, type AppProcess } from "../support/app-process.js";
import { KubeStandIn } from "../support/kube-stand-in.js";
import { loadExample, sendWebhook, withInstallation } from "../support/webhooks.js";

const INSTALLATION = 31;
const TOKEN = "k8s-api-token-0123456789abcdef0123456789";
let github: GitHubStandIn;
let kube: KubeStandIn;
let kubeconfig: string;
let apps: AppProcess[] = [];
let seq = 0;

beforeAll(async () => {
  github = await startGitHubStandIn();
  kube = await KubeStandIn.start();
  kubeconfig = kube.writeKubeconfig(mkdtempSync(join(tmpdir(), "yaci-kube-")));
});
afterAll(async () => {
  await kube.close();
  await github.close();
});
afterEach(async () => {
  await Promise.all(apps.map((a) => a.stop()));
  apps = [];
});

async function start(dataDir?: string) {
  const app = await startApp({
    github,
    dataDir,
    env: {
      YACI_EXECUTOR: "kubernetes",
      KUBECONFIG: kubeconfig,
      YACI_API_TOKEN: TOKEN,
      YACI_CATCHUP_INTERVAL: "off",
      YACI_PUBLIC_URL: "http://public.invalid",
      YACI_LINK_SECRET: "kube-e2e-link-secret-0123456789abcdef0123",
    },
  });
  apps.push(app);
  return app;
}

/** Budgets (ms) of this file's steps; each test's timeout is the sum of the steps it takes. */
const STEP = {
  start: STEP_MS.appStart,
  stop: STEP_MS.appStop,
  /** One request/answer or one state change seen through the stand-ins. */
  step: 30_000,
  /** A webhook turned into a Job (config read, token, Job + Secret). */
  job: 45_000,
  /** A finished Job's result on GitHub (log read, final write), also after a restart. */
  report: 45_000,
};

/**
 * The awaited signal that every app in `to` has handled what came before: a fresh commit is
 * delivered to them, its Job succeeds and its check run completes (each app watches the cluster
 * in order, so by then it has seen every earlier change). Costs `SENTINEL` of a test's budget.
 */
async function sentinel(to: AppProcess[]): Promise<void> {
  const c = pushEvent({ ".yaci.yml": "run: echo sentinel\n" });
  const id = `sentinel-${seq}`;
  for (const app of to) await sendWebhook(app.webhookUrl, { event: "push", payload: c.payload, secret: app.webhookSecret, deliveryId: id });
  const name = await jobFor(c.sha, "build");
  kube.kubelet.succeed(name, "sentinel\n");
  await waitFor(() => github.checkRunsFor(c.owner, c.repo, c.sha).some((r) => r.status === "completed"), { timeoutMs: STEP.report, message: "the sentinel's check run" });
}
const SENTINEL = { sentinelPush: STEP.step, sentinelJob: STEP.job, sentinelReport: STEP.report };

function pushEvent(files: Record<string, string>) {
  const sha = (++seq).toString(16).padStart(6, "0") + "cd".repeat(17);
  const payload = withInstallation(loadExample("push", (p) => p.ref.startsWith("refs/heads/") && !p.deleted), INSTALLATION);
  payload.after = sha;
  payload.ref = `refs/heads/k8s-${seq}`;
  const owner = (payload.repository.owner as { login: string }).login;
  github.setFiles(owner, payload.repository.name, sha, files);
  return { sha, owner, repo: payload.repository.name, payload };
}

/** The name of the Job of `job`@`sha`, once its pod exists (a Job that checks out starts suspended, until its Secret does). */
const jobFor = (sha: string, job: string) =>
  waitFor(
    () => {
      const name = kube.list("jobs").find((j) => j.metadata.annotations?.["yaci.dev/sha"] === sha && j.metadata.annotations?.["yaci.dev/job"] === job)?.metadata.name as string | undefined;
      return name && kube.kubelet.pod(name) ? name : undefined;
    },
    { timeoutMs: STEP.job, message: `Job of ${job}@${sha} and its pod` },
  );

describe("Kubernetes executor, end to end (real app process, Kubernetes and GitHub stand-ins)", () => {
  it("the original API: POST /run creates a Job; GET /get follows it to Succeeded with its log, or Failed", { timeout: e2eBudget({ start: STEP.start, post1: STEP.step, job1: STEP.step, running: STEP.step, succeeded: STEP.step, post2: STEP.step, job2: STEP.step, failed: STEP.step }) }, async () => {
    const app = await start();
    const post = async (command: string) => {
      const res = await fetch(`${app.url}/run`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: command });
      expect(res.status).toBe(200);
      return ((await res.json()) as { name: string }).name;
    };
    const get = async (id: string) =>
      (await (await fetch(`${app.url}/get?id=${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { pod: string; status: string; log: string }[];

    const ok = await post("echo great success");
    await waitFor(() => kube.get("jobs", ok), { timeoutMs: STEP.step });
    const main = kube.get("jobs", ok)!.spec.template.spec.containers[0];
    expect(main).toMatchObject({ image: "alpine", command: ["sh", "-c", "echo great success"] }); // as the original ran it
    expect(kube.get("jobs", ok)!.spec.template.spec.initContainers ?? []).toEqual([]); // no checkout
    kube.kubelet.run(ok);
    await waitFor(async () => (await get(ok))[0]?.status === "Running", { timeoutMs: STEP.step });
    kube.kubelet.succeed(ok, "great success\n");
    const [pod] = await waitFor(async () => {
      const pods = await get(ok);
      return pods[0]?.status === "Succeeded" ? pods : undefined;
    }, { timeoutMs: STEP.step });
    expect(pod!.log).toBe("great success\n");
    expect(pod!.pod).toBe(kube.kubelet.pod(ok)!.metadata.name); // the pod's own name, as the original API answered

    const bad = await post("echo no; exit 3");
    await waitFor(() => kube.get("jobs", bad), { timeoutMs: STEP.step });
    kube.kubelet.fail(bad, 3, "no\n");
    const [failed] = await waitFor(async () => {
      const pods = await get(bad);
      return pods[0]?.status === "Failed" ? pods : undefined;
    }, { timeoutMs: STEP.step });
    expect(failed!.log).toBe("no\n");
  });

  it("a push runs as a Job with a checkout init container and reports queued/in_progress → completed with the log", { timeout: e2eBudget({ start: STEP.start, push: STEP.step, job: STEP.job, inProgress: STEP.step, page: STEP.step, streamed: STEP.step, completed: STEP.step }) }, async () => {
    const app = await start();
    const { sha, owner, repo, payload } = pushEvent({ ".yaci.yml": "image: node:22-alpine\nrun: npm test\n" });
    expect(await sendWebhook(app.webhookUrl, { event: "push", payload, secret: app.webhookSecret })).toBe(202); // stored; handled in the background
    const name = await jobFor(sha, "build");
    const spec = kube.get("jobs", name)!.spec.template.spec;
    expect(spec.initContainers.map((c: { name: string }) => c.name)).toEqual(["checkout"]);
    expect(JSON.stringify(spec.containers)).not.toMatch(/ghs_|token/i);
    kube.kubelet.run(name);
    const live = await waitFor(() => github.checkRunsFor(owner, repo, sha).find((r) => r.status === "in_progress"), { timeoutMs: STEP.step });

    // While someone watches its run page, the running job's output streams in (and only then).
    const logReads = kube.count("get", "pods/log");
    const events = live.details_url!.replace("http://public.invalid", app.url).replace(/\/runs\/([^?]+)\?/, "/runs/$1/events?");
    const abort = new AbortController();
    const res = await fetch(events, { signal: abort.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let seen = "";
    kube.kubelet.log(name, "compiling\n");
    await waitFor(async () => {
      const { value } = await reader.read();
      seen += new TextDecoder().decode(value);
      return seen.includes("compiling");
    }, { timeoutMs: STEP.step });
    abort.abort();
    expect(kube.count("get", "pods/log") - logReads).toBe(1); // one follow stream for the watcher
    kube.kubelet.succeed(name, "compiling\n1 passing\n");
    const run = await waitFor(() => github.checkRunsFor(owner, repo, sha).find((r) => r.status === "completed"), { timeoutMs: STEP.step });
    expect(run).toMatchObject({ name: "build", conclusion: "success" });
    expect(run.output.text).toContain("compiling\n1 passing");
    expect(run.output.summary).toContain("kubernetes");
    expect(github.violations).toEqual([]);
  });

  it(
    "restarted while one Job runs and another finished unreported: each result is reported exactly once",
    {
      timeout: e2eBudget({
        start1: STEP.start,
        push: STEP.step,
        jobs: 2 * STEP.job,
        inProgress: STEP.step,
        kill: STEP.stop,
        start2: STEP.start,
        quickReported: STEP.report,
        slowReported: STEP.report,
        stop: STEP.stop,
        start3: STEP.start,
        ...SENTINEL,
      }),
    },
    async () => {
    const app = await start();
    const { sha, owner, repo, payload } = pushEvent({ ".yaci.yml": "jobs:\n  quick:\n    run: echo q\n  slow:\n    run: sleep 100\n" });
    await sendWebhook(app.webhookUrl, { event: "push", payload, secret: app.webhookSecret });
    const quick = await jobFor(sha, "quick");
    const slow = await jobFor(sha, "slow");
    kube.kubelet.run(quick);
    kube.kubelet.run(slow);
    await waitFor(() => github.checkRunsFor(owner, repo, sha).filter((r) => r.status === "in_progress").length === 2, { timeoutMs: STEP.step });
    await app.kill();
    kube.kubelet.succeed(quick, "q\n"); // finishes while YACI is down

    const again = await start(app.dataDir);
    const q = await waitFor(() => github.checkRunsFor(owner, repo, sha).find((r) => r.name === "quick" && r.status === "completed"), { timeoutMs: STEP.report });
    expect(q.conclusion).toBe("success");
    expect(github.checkRunsFor(owner, repo, sha).find((r) => r.name === "slow")!.status).toBe("in_progress");
    kube.kubelet.succeed(slow, "done\n");
    await waitFor(() => github.checkRunsFor(owner, repo, sha).every((r) => r.status === "completed"), { timeoutMs: STEP.report });
    await again.stop();
    apps = apps.filter((a) => a !== again);

    const third = await start(app.dataDir); // a third life: nothing left to report
    await sentinel([third]); // it recovered, then saw a new Job through to its report
    const runs = github.checkRunsFor(owner, repo, sha);
    expect(runs).toHaveLength(2);
    for (const r of runs) expect(r.history.filter((h) => h.status === "completed")).toHaveLength(1);
  },
  );

  it("two app processes on one cluster, the same event delivered to both: one Job, one check run, one result", { timeout: e2eBudget({ start: STEP.start, push: STEP.step, job: STEP.job, bothTried: STEP.step, completed: STEP.report, ...SENTINEL }) }, async () => {
    const [a, b] = await Promise.all([start(), start()]);
    const { sha, owner, repo, payload } = pushEvent({ ".yaci.yml": "run: echo once\n" });
    const creates = kube.count("create", "jobs");
    const delivery = `dup-${seq}`;
    await Promise.all([a!, b!].map((app) => sendWebhook(app.webhookUrl, { event: "push", payload, secret: app.webhookSecret, deliveryId: delivery })));
    const name = await jobFor(sha, "build");
    // Both tried; one got 409 AlreadyExists.
    await waitFor(() => kube.count("create", "jobs") - creates >= 2, { timeoutMs: STEP.step, message: "both apps to try to create the Job" });
    expect(kube.list("jobs").filter((j) => j.metadata.annotations?.["yaci.dev/sha"] === sha)).toHaveLength(1);
    kube.kubelet.succeed(name, "once\n");
    await waitFor(() => github.checkRunsFor(owner, repo, sha).some((r) => r.status === "completed"), { timeoutMs: STEP.report });
    await sentinel([a!, b!]); // both apps saw everything after the first result
    const runs = github.checkRunsFor(owner, repo, sha);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.history.filter((h) => h.status === "completed")).toHaveLength(1);
  });
});
