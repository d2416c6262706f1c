import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandIn, waitFor, type CheckRunRecord, type GitHubStandIn } from "../support/github-stand-in.js";
import { e2eBudget, startApp, STEP_MS, type AppProcess } from "../support/app-process.js";
import { loadExample, sendWebhook, withInstallation } from "../support/webhooks.js";

/**
 * Issue 16, acceptance 1, end to end on the local executor (the real app process, the GitHub
 * stand-in): a job prints a line, works, then prints another. Its in-progress check run shows the
 * first line within 20 s of its printing; the second line only in the final result.
 *
 * Scaled: YACI_LIVE_LOG_INTERVAL=2s (default 15 s) and a 12 s sleep instead of 40 s, so that the
 * job still outlasts several refreshes. The 20 s bound is GitHub-side time a user would wait, unscaled.
 */
const SLEEP_S = 12;
const FIRST_WITHIN_MS = 20_000;
const STEP = { start: STEP_MS.appStart, stop: STEP_MS.appStop, push: 10_000, queued: 20_000, run: SLEEP_S * 1000 + FIRST_WITHIN_MS, final: 15_000 };

let github: GitHubStandIn;
let app: AppProcess;

beforeAll(async () => {
  github = await startGitHubStandIn();
  app = await startApp({ github, env: { YACI_LIVE_LOG_INTERVAL: "2s", YACI_CATCHUP_INTERVAL: "off" } });
}, STEP.start);
afterAll(async () => {
  await app?.stop();
  await github?.close();
}, STEP.stop);

describe("a running job's log in its check run (local executor, end to end)", () => {
  it(
    "shows the first line while the job runs, the second only in the final result",
    async () => {
      const sha = "11feed16".repeat(5);
      const payload = withInstallation(loadExample("push", (x) => x.ref.startsWith("refs/heads/") && !x.deleted), 1616);
      payload.after = sha;
      const { login: owner } = payload.repository.owner as { login: string };
      const repo = payload.repository.name;
      github.setFiles(owner, repo, sha, {
        ".yaci.yml": `run: |\n  echo "live-first-line"\n  sleep ${SLEEP_S}\n  echo "live-second-line"\n`,
      });
      expect(await sendWebhook(app.webhookUrl, { event: "push", payload, secret: app.webhookSecret, deliveryId: "live-1" })).toBe(202);
      const current = () => github.checkRunsFor(owner, repo, sha)[0];

      const running = await waitFor(() => (current()?.status === "in_progress" ? Date.now() : undefined), {
        timeoutMs: STEP.push + STEP.queued,
        message: "the check run to be in progress",
      });
      // The job prints its first line as it starts: it is shown while the job still runs.
      const shownAt = await waitFor(
        () => {
          const r = current();
          if (r?.status === "completed") throw new Error("the job ended before its first line was shown");
          return r?.output.text?.includes("live-first-line") ? Date.now() : undefined;
        },
        { timeoutMs: FIRST_WITHIN_MS + 5_000, message: "the first line in the in-progress check run" },
      );
      expect(shownAt - running).toBeLessThanOrEqual(FIRST_WITHIN_MS);
      const live = current()!;
      expect(live.status).toBe("in_progress");
      expect(live.output.title).toMatch(/^Running for /);

      const done: CheckRunRecord = await waitFor(() => (current()?.status === "completed" ? current() : undefined), {
        timeoutMs: STEP.run + STEP.final,
        message: "the final check run",
      });
      expect(done.conclusion).toBe("success");
      expect(done.output.text).toContain("live-second-line");
      // Never before the job's end: no in-progress write carried the second line.
      const inProgress = done.history.filter((b) => b.status === "in_progress");
      const withLog = inProgress.filter((b) => (b.output as { text?: string } | undefined)?.text !== undefined);
      expect(withLog.length).toBeGreaterThanOrEqual(1);
      expect(inProgress.filter((b) => JSON.stringify(b).includes("live-second-line"))).toEqual([]);
      // The log did not grow during the sleep: one live write, not one per refresh.
      expect(withLog.length).toBeLessThanOrEqual(2);
    },
    e2eBudget(STEP),
  );
});
