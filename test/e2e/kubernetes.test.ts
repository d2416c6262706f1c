import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandIn, waitFor, type GitHubStandIn } from "../support/github-stand-in.js";
import { startApp, type AppProcess } from "../support/app-process.js";
import { KubeStandIn } from "../support/kube-stand-in.js";
import { loadExample, sendWebhook, withInstallation } from "../support/webhooks.js";

const INSTALLATION = 31;
const TOKEN = "k8s-api-token";
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
      YACI_LINK_SECRET: "kube-e2e-link-secret-0123",
    },
  });
  apps.push(app);
  return app;
}

function pushEvent(files: Record<string, string>) {
  const sha = (++seq).toString(16).padStart(6, "0") + "cd".repeat(17);
  const payload = withInstallation(loadExample("push", (p) => p.ref.startsWith("refs/heads/") && !p.deleted), INSTALLATION);
  payload.after = sha;
  payload.ref = `refs/heads/k8s-${seq}`;
  const owner = (payload.repository.owner as { login: string }).login;
  github.setFiles(owner, payload.repository.name, sha, files);
  return { sha, owner, repo: payload.repository.name, payload };
}

const jobFor = (sha: string, job: string) =>
  waitFor(() => kube.list("jobs").find((j) => j.metadata.annotations?.["yaci.dev/sha"] === sha && j.metadata.annotations?.["yaci.dev/job"] === job)?.metadata.name as string | undefined, {
    timeoutMs: 15_000,
    message: `Job of ${job}@${sha}`,
  });

describe("Kubernetes executor, end to end (real app process, Kubernetes and GitHub stand-ins)", () => {
  it("the original API: POST /run creates a Job; GET /get follows it to Succeeded with its log, or Failed", async () => {
    const app = await start();
    const post = async (command: string) => {
      const res = await fetch(`${app.url}/run`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: command });
      expect(res.status).toBe(200);
      return ((await res.json()) as { name: string }).name;
    };
    const get = async (id: string) =>
      (await (await fetch(`${app.url}/get?id=${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { pod: string; status: string; log: string }[];

    const ok = await post("echo great success");
    await waitFor(() => kube.get("jobs", ok), { timeoutMs: 10_000 });
    const main = kube.get("jobs", ok)!.spec.template.spec.containers[0];
    expect(main).toMatchObject({ image: "alpine", command: ["sh", "-c", "echo great success"] }); // as the original ran it
    expect(kube.get("jobs", ok)!.spec.template.spec.initContainers ?? []).toEqual([]); // no checkout
    kube.kubelet.run(ok);
    await waitFor(async () => (await get(ok))[0]?.status === "Running", { timeoutMs: 10_000 });
    kube.kubelet.succeed(ok, "great success\n");
    const [pod] = await waitFor(async () => {
      const pods = await get(ok);
      return pods[0]?.status === "Succeeded" ? pods : undefined;
    }, { timeoutMs: 10_000 });
    expect(pod!.log).toBe("great success\n");
    expect(pod!.pod).toBe(kube.kubelet.pod(ok)!.metadata.name); // the pod's own name, as the original API answered

    const bad = await post("echo no; exit 3");
    await waitFor(() => kube.get("jobs", bad), { timeoutMs: 10_000 });
    kube.kubelet.fail(bad, 3, "no\n");
    const [failed] = await waitFor(async () => {
      const pods = await get(bad);
      return pods[0]?.status === "Failed" ? pods : undefined;
    }, { timeoutMs: 10_000 });
    expect(failed!.log).toBe("no\n");
  });

  it("a push runs as a Job with a checkout init container and reports queued/in_progress → completed with the log", async () => {
    const app = await start();
    const { sha, owner, repo, payload } = pushEvent({ ".yaci.yml": "image: node:22-alpine\nrun: npm test\n" });
    expect(await sendWebhook(app.webhookUrl, { event: "push", payload, secret: app.webhookSecret })).toBe(200);
    const name = await jobFor(sha, "build");
    const spec = kube.get("jobs", name)!.spec.template.spec;
    expect(spec.initContainers.map((c: { name: string }) => c.name)).toEqual(["checkout"]);
    expect(JSON.stringify(spec.containers)).not.toMatch(/ghs_|token/i);
    kube.kubelet.run(name);
    const live = await waitFor(() => github.checkRunsFor(owner, repo, sha).find((r) => r.status === "in_progress"), { timeoutMs: 10_000 });

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
    }, { timeoutMs: 10_000 });
    abort.abort();
    expect(kube.count("get", "pods/log") - logReads).toBe(1); // one follow stream for the watcher
    kube.kubelet.succeed(name, "compiling\n1 passing\n");
    const run = await waitFor(() => github.checkRunsFor(owner, repo, sha).find((r) => r.status === "completed"), { timeoutMs: 10_000 });
    expect(run).toMatchObject({ name: "build", conclusion: "success" });
    expect(run.output.text).toContain("compiling\n1 passing");
    expect(run.output.summary).toContain("kubernetes");
    expect(github.violations).toEqual([]);
  });

  it("restarted while one Job runs and another finished unreported: each result is reported exactly once", async () => {
    const app = await start();
    const { sha, owner, repo, payload } = pushEvent({ ".yaci.yml": "jobs:\n  quick:\n    run: echo q\n  slow:\n    run: sleep 100\n" });
    await sendWebhook(app.webhookUrl, { event: "push", payload, secret: app.webhookSecret });
    const quick = await jobFor(sha, "quick");
    const slow = await jobFor(sha, "slow");
    kube.kubelet.run(quick);
    kube.kubelet.run(slow);
    await waitFor(() => github.checkRunsFor(owner, repo, sha).filter((r) => r.status === "in_progress").length === 2, { timeoutMs: 10_000 });
    await app.kill();
    kube.kubelet.succeed(quick, "q\n"); // finishes while YACI is down

    const again = await start(app.dataDir);
    const q = await waitFor(() => github.checkRunsFor(owner, repo, sha).find((r) => r.name === "quick" && r.status === "completed"), { timeoutMs: 15_000 });
    expect(q.conclusion).toBe("success");
    expect(github.checkRunsFor(owner, repo, sha).find((r) => r.name === "slow")!.status).toBe("in_progress");
    kube.kubelet.succeed(slow, "done\n");
    await waitFor(() => github.checkRunsFor(owner, repo, sha).every((r) => r.status === "completed"), { timeoutMs: 15_000 });
    await again.stop();
    apps = apps.filter((a) => a !== again);

    await start(app.dataDir); // a third life: nothing left to report
    await new Promise((r) => setTimeout(r, 2_000));
    const runs = github.checkRunsFor(owner, repo, sha);
    expect(runs).toHaveLength(2);
    for (const r of runs) expect(r.history.filter((h) => h.status === "completed")).toHaveLength(1);
  });

  it("two app processes on one cluster, the same event delivered to both: one Job, one check run, one result", async () => {
    const [a, b] = await Promise.all([start(), start()]);
    const { sha, owner, repo, payload } = pushEvent({ ".yaci.yml": "run: echo once\n" });
    const creates = kube.count("create", "jobs");
    const delivery = `dup-${seq}`;
    await Promise.all([a!, b!].map((app) => sendWebhook(app.webhookUrl, { event: "push", payload, secret: app.webhookSecret, deliveryId: delivery })));
    const name = await jobFor(sha, "build");
    await new Promise((r) => setTimeout(r, 1_000));
    expect(kube.count("create", "jobs") - creates).toBeGreaterThanOrEqual(2); // both tried; one got 409 AlreadyExists
    expect(kube.list("jobs").filter((j) => j.metadata.annotations?.["yaci.dev/sha"] === sha)).toHaveLength(1);
    kube.kubelet.succeed(name, "once\n");
    await waitFor(() => github.checkRunsFor(owner, repo, sha).some((r) => r.status === "completed"), { timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 1_000));
    const runs = github.checkRunsFor(owner, repo, sha);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.history.filter((h) => h.status === "completed")).toHaveLength(1);
  });
});
