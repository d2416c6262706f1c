import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandIn, waitFor, type CheckRunRecord, type GitHubStandIn } from "../support/github-stand-in.js";
import { e2eBudget, startApp, STEP_MS, type AppProcess } from "../support/app-process.js";
import { KubeStandIn } from "../support/kube-stand-in.js";
import { loadExample, sendWebhook, withInstallation } from "../support/webhooks.js";

/**
 * Issue 16, acceptance 2, end to end on the Kubernetes executor (the real app process with
 * YACI_EXECUTOR=kubernetes, the Kubernetes API stand-in, the GitHub stand-in): a job prints a line,
 * works, then prints another. Its in-progress check run shows the first line within 35 s of its
 * printing (read with one bounded `pods/log` read, nobody watching the run page); the second line
 * only in the final result.
 *
 * The stand-in's kubelet plays the job: `kubelet.log` appends the first line to the running
 * container's log; after the "sleep", `kubelet.succeed` terminates the container with its whole log
 * (both lines) in one step, so the second line exists only once the job has ended.
 *
 * Scaled: YACI_LIVE_LOG_INTERVAL=2s (default 15 s; in-progress writes are coalesced to the same
 * period, at most 10 s), YACI_LIVE_LOG_READS_PER_MINUTE left at its default (60: one running run may
 * be read every second), and a sleep of a few refreshes (HOLD_MS) instead of 40 s. The 35 s bound
 * is GitHub-side time a user would wait, unscaled.
 */
const LIVE_INTERVAL_MS = 2_000;
const FIRST_WITHIN_MS = 35_000;
/** How long the job keeps running after its first line is shown: several refreshes that find no new output. */
const HOLD_MS = 4 * LIVE_INTERVAL_MS;
const STEP = {
  start: STEP_MS.appStart,
  stop: STEP_MS.appStop,
  /** The webhook turned into a Job and its pod (config read, token, Job + Secret). */
  job: 45_000,
  /** The pod running → the in-progress check run. */
  inProgress: 30_000,
  first: FIRST_WITHIN_MS + 5_000,
  hold: HOLD_MS,
  /** The finished Job's result on GitHub (final log read, final write). */
  final: 45_000,
};

const TOKEN = "k8s-api-token-0123456789abcdef0123456789";
let github: GitHubStandIn;
let kube: KubeStandIn;
let app: AppProcess;

beforeAll(async () => {
  github = await startGitHubStandIn();
  kube = await KubeStandIn.start();
  const kubeconfig = kube.writeKubeconfig(mkdtempSync(join(tmpdir(), "yaci-kube-live-")));
  app = await startApp({
    github,
    env: {
      YACI_EXECUTOR: "kubernetes",
      KUBECONFIG: kubeconfig,
      YACI_API_TOKEN: TOKEN,
      YACI_CATCHUP_INTERVAL: "off",
      YACI_PUBLIC_URL: "http://public.invalid",
      YACI_LINK_SECRET: "kube-live-log-link-secret-0123456789abcdef",
      YACI_LIVE_LOG_INTERVAL: `${LIVE_INTERVAL_MS / 1000}s`,
    },
  });
}, STEP.start);
afterAll(async () => {
  await app?.stop();
  await kube?.close();
  await github?.close();
}, STEP.stop);

describe("a running job's log in its check run (Kubernetes executor, end to end)", () => {
  it(
    "shows the first line while the Job's pod runs (within 35 s), the second only in the final result",
    async () => {
      const sha = "16cafe02".repeat(5);
      const payload = withInstallation(loadExample("push", (x) => x.ref.startsWith("refs/heads/") && !x.deleted), 1602);
      payload.after = sha;
      payload.ref = "refs/heads/live-log-k8s";
      const { login: owner } = payload.repository.owner as { login: string };
      const repo = payload.repository.name;
      github.setFiles(owner, repo, sha, {
        ".yaci.yml": `run: |\n  echo "live-first-line"\n  sleep 40\n  echo "live-second-line"\n`,
      });
      expect(await sendWebhook(app.webhookUrl, { event: "push", payload, secret: app.webhookSecret, deliveryId: "live-k8s-1" })).toBe(202);
      const current = () => github.checkRunsFor(owner, repo, sha)[0];

      const name = await waitFor(
        () => {
          const job = kube.list("jobs").find((j) => j.metadata.annotations?.["yaci.dev/sha"] === sha);
          const n = job?.metadata.name as string | undefined;
          return n && kube.kubelet.pod(n) ? n : undefined;
        },
        { timeoutMs: STEP.job, message: "the Job and its pod" },
      );
      kube.kubelet.run(name); // main starts, nothing printed yet
      await waitFor(() => current()?.status === "in_progress", { timeoutMs: STEP.inProgress, message: "the check run to be in progress" });

      // The job prints its first line: it is shown while the job still runs.
      const logReads = kube.count("get", "pods/log");
      const printedAt = Date.now();
      kube.kubelet.log(name, "live-first-line\n");
      const shownAt = await waitFor(
        () => {
          const r = current();
          if (r?.status === "completed") throw new Error("the job ended before its first line was shown");
          return r?.output.text?.includes("live-first-line") ? Date.now() : undefined;
        },
        { timeoutMs: STEP.first, message: "the first line in the in-progress check run" },
      );
      expect(shownAt - printedAt).toBeLessThanOrEqual(FIRST_WITHIN_MS);
      const live = current()!;
      expect(live.status).toBe("in_progress");
      expect(live.output.title).toMatch(/^Running for /);
      expect(live.output.text).not.toContain("live-second-line");

      // The job sleeps: refreshes find nothing new; it still runs, its check run unchanged.
      await new Promise((r) => setTimeout(r, HOLD_MS));
      expect(current()!.status).toBe("in_progress");
      expect(current()!.output.text).not.toContain("live-second-line");

      // Read with bounded, non-following `pods/log` reads (nobody watches its run page).
      const reads = kube.requests.filter((q) => q.resource === "pods/log");
      expect(kube.count("get", "pods/log") - logReads).toBeGreaterThanOrEqual(1);
      expect(kube.followRequests).toEqual([]);
      for (const q of reads) {
        expect(q.query.get("tailLines")).toMatch(/^\d+$/);
        expect(q.query.get("limitBytes")).toMatch(/^\d+$/);
      }
      // At most one read per refresh (YACI_LIVE_LOG_READS_PER_MINUTE=60 would allow one a second).
      const elapsed = Date.now() - printedAt;
      expect(kube.count("get", "pods/log") - logReads).toBeLessThanOrEqual(Math.ceil(elapsed / LIVE_INTERVAL_MS) + 1);

      // It prints its second line and ends: the container terminates with both lines in its log.
      kube.kubelet.succeed(name, "live-first-line\nlive-second-line\n");
      const done: CheckRunRecord = await waitFor(() => (current()?.status === "completed" ? current() : undefined), {
        timeoutMs: STEP.final,
        message: "the final check run",
      });
      expect(done.conclusion).toBe("success");
      expect(done.output.text).toContain("live-first-line");
      expect(done.output.text).toContain("live-second-line");
      // Never before the job's end: no in-progress write carried the second line.
      const inProgress = done.history.filter((b) => b.status === "in_progress");
      const withLog = inProgress.filter((b) => (b.output as { text?: string } | undefined)?.text !== undefined);
      expect(withLog.length).toBeGreaterThanOrEqual(1);
      expect(inProgress.filter((b) => JSON.stringify(b).includes("live-second-line"))).toEqual([]);
      // The log did not grow during the sleep: one live write, not one per refresh.
      expect(withLog.length).toBeLessThanOrEqual(2);
      expect(github.violations).toEqual([]);
    },
    e2eBudget(STEP),
  );
});
