import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { e2eBudget, startApp, STEP_MS, type AppProcess } from "../support/app-process.js";
import { startGitHubStandIn, waitFor, type GitHubStandIn } from "../support/github-stand-in.js";
import { KubeStandIn, type KObj } from "../support/kube-stand-in.js";
import { loadExample, sendWebhook, withInstallation } from "../support/webhooks.js";

/**
 * Two real app processes (own data dirs, own API credentials) on one cluster (the Kubernetes API
 * stand-in), with the fair queue on (YACI_MAX_RUNNING=2) and a short Lease (YACI_LEASE_DURATION).
 * Every webhook goes to the replica that does NOT hold the Lease: it creates the Jobs (suspended)
 * and reports them; the holder alone unsuspends them. Who sent a request is known from the token
 * it presented (each process has its own, as each pod has its own bound ServiceAccount token); the
 * Lease's history (renewTime / acquireTime, written by the replicas' clocks) times the take-over.
 */
const LEASE_S = 10;
const LEASE_MS = LEASE_S * 1000;
/** The holder renews (and a follower looks) every third of the duration. */
const RENEW_MS = LEASE_MS / 3;
/** A follower's look is one read and one write (and a timer), on a loaded 2-core machine: their allowance. */
const REQUEST_SLACK_MS = 2000;
const LEASE = "yaci-admission";
const MAX_RUNNING = 2;
const INSTALLATION = 77;

const STEP = {
  start: STEP_MS.appStart,
  stop: STEP_MS.appStop,
  /** One state change seen through the stand-ins (a Lease write, an admission). */
  step: 30_000,
  /** A webhook turned into its Jobs (config read, tokens, Jobs + Secrets). */
  jobs: 45_000,
  /** Finished Jobs' results on GitHub. */
  report: 45_000,
};

let github: GitHubStandIn;
let kube: KubeStandIn;
let dir: string;
let apps: AppProcess[] = [];
let seq = 0;

beforeEach(async () => {
  github = await startGitHubStandIn();
  kube = await KubeStandIn.start();
  dir = mkdtempSync(join(tmpdir(), "yaci-lease-"));
});
afterEach(async () => {
  await Promise.all(apps.map((a) => a.stop()));
  for (const a of apps) a.removeDataDir();
  apps = [];
  await kube.close();
  await github.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Replica {
  /** The name its API token was minted for (requests are recorded with it). */
  client: string;
  app: AppProcess;
}

async function replica(client: string): Promise<Replica> {
  const app = await startApp({
    github,
    env: {
      YACI_EXECUTOR: "kubernetes",
      KUBECONFIG: kube.writeKubeconfig(dir, client),
      YACI_CATCHUP_INTERVAL: "off",
      YACI_PUBLIC_URL: "http://public.invalid",
      YACI_LINK_SECRET: "lease-e2e-link-secret-0123456789abcdef0123",
      YACI_MAX_RUNNING: String(MAX_RUNNING),
      YACI_LEASE_DURATION: `${LEASE_S}s`,
    },
  });
  apps.push(app);
  return { client, app };
}

/** Both replicas up; resolves once one holds the Lease (it says so in its log, with its identity). */
async function twoReplicas(): Promise<{ holder: Replica; follower: Replica; holderId: string }> {
  const [a, b] = await Promise.all([replica("a"), replica("b")]);
  const holderId = await waitFor(() => kube.get("leases", LEASE)?.spec?.holderIdentity as string | undefined, { timeoutMs: STEP.step, message: "a holder of the Lease" });
  const said = (r: Replica) => r.app.jsonLogs().some((l) => l.identity === holderId && String(l.msg).startsWith("kubernetes: this replica admits jobs"));
  const holder = await waitFor(() => [a!, b!].find(said), { timeoutMs: STEP.step, message: "the holder's log line" });
  return { holder, follower: holder === a ? b! : a!, holderId };
}

/** A push with `n` jobs, sent to `to` only; its Jobs' names once they all exist. */
async function push(to: Replica, n: number) {
  const sha = (++seq).toString(16).padStart(6, "0") + "ef".repeat(17);
  const payload = withInstallation(loadExample("push", (p) => p.ref.startsWith("refs/heads/") && !p.deleted), INSTALLATION);
  payload.after = sha;
  payload.ref = `refs/heads/lease-${seq}`;
  const owner = (payload.repository.owner as { login: string }).login;
  const repo = payload.repository.name;
  const yml = "jobs:\n" + Array.from({ length: n }, (_, i) => `  j${i}:\n    run: echo ${i}\n`).join("");
  github.setFiles(owner, repo, sha, { ".yaci.yml": yml });
  expect(await sendWebhook(to.app.webhookUrl, { event: "push", payload, secret: to.app.webhookSecret })).toBe(202);
  const jobs = await waitFor(
    () => {
      const mine = kube.list("jobs").filter((j) => j.metadata.annotations?.["yaci.dev/sha"] === sha);
      return mine.length === n && mine.every((j) => j.metadata.annotations?.["yaci.dev/queue"] !== "held") ? mine.map((j) => j.metadata.name as string) : undefined;
    },
    { timeoutMs: STEP.jobs, message: `the ${n} Jobs of ${sha}, queued` },
  );
  return { sha, owner, repo, jobs };
}

/** Those of `names` ever unsuspended (admitted), in the cluster's history. */
const unsuspended = (names: string[]) => {
  const ever = new Set(kube.changes("jobs").filter((c) => c.object.spec?.suspend === false).map((c) => c.object.metadata.name as string));
  return names.filter((n) => ever.has(n));
};
const finished = (j: KObj | undefined) => (j?.status?.conditions ?? []).some((c: KObj) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
/** Who unsuspended Jobs: the client of every PATCH that sets `spec.suspend: false`, in order. */
const admitters = () => kube.requests.filter((r) => r.verb === "patch" && r.resource === "jobs" && /"suspend":false/.test(r.body ?? "")).map((r) => r.client);
const leaseRequests = (client: string) => kube.requests.filter((r) => r.resource === "leases" && r.client === client).length;
/** The Lease's versions (its spec), oldest first. */
const leaseHistory = () => kube.changes("leases").filter((c) => c.object.metadata.name === LEASE).map((c) => c.object.spec as KObj);
const ms = (t: unknown) => Date.parse(String(t));

/** The most Jobs unsuspended and not finished at any one time, over the cluster's whole history. */
function mostRunning(): number {
  const running = new Set<string>();
  let most = 0;
  for (const { type, object } of kube.changes("jobs")) {
    const name = object.metadata.name as string;
    if (type !== "DELETED" && object.spec?.suspend === false && !finished(object)) running.add(name);
    else running.delete(name);
    most = Math.max(most, running.size);
  }
  return most;
}

/** Waits until `follower` has looked at the Lease `times` more times (it had its chances to take it). */
async function followerLooks(follower: Replica, times: number): Promise<void> {
  const seen = leaseRequests(follower.client);
  await waitFor(() => leaseRequests(follower.client) >= seen + times, { timeoutMs: STEP.step, message: `${times} more looks at the Lease by the follower` });
}

/** Every job of the push has exactly one check run, completed once, successfully. */
async function allReported(p: { owner: string; repo: string; sha: string }, n: number): Promise<void> {
  await waitFor(() => {
    const runs = github.checkRunsFor(p.owner, p.repo, p.sha);
    return runs.length === n && runs.every((r) => r.status === "completed");
  }, { timeoutMs: STEP.report, message: `${n} completed check runs` });
  const runs = github.checkRunsFor(p.owner, p.repo, p.sha);
  expect(runs).toHaveLength(n);
  for (const r of runs) {
    expect(r.conclusion, r.name).toBe("success");
    expect(r.history.filter((h) => h.status === "completed"), r.name).toHaveLength(1);
  }
}

describe("the admission Lease across two real app processes (Kubernetes API stand-in)", () => {
  it(
    "one holds the Lease and alone admits; killed (SIGKILL, no release), the other takes it once it lapses and admits the rest",
    {
      timeout: e2eBudget({
        start: STEP.start, lease: 2 * STEP.step, looks: STEP.step, push: STEP.jobs, admitted: STEP.step, looks2: STEP.step, next: STEP.step,
        kill: STEP.stop, takeover: STEP.step, said: STEP.step, rest: STEP.step, report: STEP.report,
      }),
    },
    async () => {
      const { holder, follower, holderId } = await twoReplicas();
      await followerLooks(follower, 2);
      const p = await push(follower, 6);
      // (a) The holder admits up to the limit; the follower, which created the Jobs, admits none.
      await waitFor(() => unsuspended(p.jobs).length === MAX_RUNNING, { timeoutMs: STEP.step, message: "two admissions" });
      await followerLooks(follower, 2); // it looked again, with Jobs waiting, and left the Lease alone
      expect(unsuspended(p.jobs)).toHaveLength(MAX_RUNNING);
      expect(leaseHistory().map((s) => s.holderIdentity)).toEqual(leaseHistory().map(() => holderId));
      expect(admitters()).toEqual([holder.client, holder.client]);
      // Slots free up: the holder admits the next two.
      const done = new Set(unsuspended(p.jobs));
      for (const name of done) kube.kubelet.succeed(name, "ok\n");
      await waitFor(() => unsuspended(p.jobs).length === 2 * MAX_RUNNING, { timeoutMs: STEP.step, message: "the next two admissions" });
      expect(admitters()).toEqual(Array(2 * MAX_RUNNING).fill(holder.client));

      // (b) The holder dies without giving the Lease up; two Jobs it admitted are still running.
      await holder.app.kill();
      for (const name of unsuspended(p.jobs).filter((n) => !done.has(n))) {
        kube.kubelet.succeed(name, "ok\n");
        done.add(name);
      }
      const took = await waitFor(() => {
        const h = leaseHistory();
        const i = h.findIndex((s) => s.holderIdentity && s.holderIdentity !== holderId);
        return i > 0 ? { last: h.slice(0, i).filter((s) => s.holderIdentity === holderId).at(-1)!, next: h[i]! } : undefined;
      }, { timeoutMs: STEP.step, message: "the follower to take the Lease" });
      const gap = ms(took.next.acquireTime) - ms(took.last.renewTime);
      // Not before it lapsed, and no later than the follower's next look after that.
      expect(gap).toBeGreaterThan(LEASE_MS);
      expect(gap).toBeLessThanOrEqual(LEASE_MS + RENEW_MS + REQUEST_SLACK_MS);
      expect(took.next.leaseTransitions).toBe((took.last.leaseTransitions ?? 0) + 1);
      // …and it is the follower that says so (the log line follows the write's answer).
      await follower.app.waitForLog((l) => l.identity === took.next.holderIdentity && String(l.msg).startsWith("kubernetes: this replica admits jobs"), { timeoutMs: STEP.step });
      // The new holder goes on with the queue: the last two, never more than the limit at once.
      await waitFor(() => unsuspended(p.jobs).length === p.jobs.length, { timeoutMs: STEP.step, message: "the last two admissions, by the new holder" });
      expect(admitters()).toEqual([...Array(2 * MAX_RUNNING).fill(holder.client), follower.client, follower.client]);
      for (const name of p.jobs.filter((n) => !done.has(n))) kube.kubelet.succeed(name, "ok\n");
      await allReported(p, p.jobs.length);
      expect(mostRunning()).toBe(MAX_RUNNING);
    },
  );

  it(
    "stopped cleanly (SIGTERM), the holder gives the Lease up and the other takes it at its next look, well within the duration",
    {
      timeout: e2eBudget({ start: STEP.start, lease: 2 * STEP.step, looks: STEP.step, push: STEP.jobs, admitted: STEP.step, stop: STEP.stop, takeover: STEP.step, rest: STEP.step, report: STEP.report }),
    },
    async () => {
      const { holder, follower, holderId } = await twoReplicas();
      await followerLooks(follower, 1);
      const p = await push(follower, 4);
      await waitFor(() => unsuspended(p.jobs).length === MAX_RUNNING, { timeoutMs: STEP.step, message: "two admissions" });
      expect(admitters()).toEqual([holder.client, holder.client]);

      expect(await holder.app.stop("SIGTERM")).toEqual({ code: 0, signal: null });
      const h = await waitFor(() => {
        const all = leaseHistory();
        const i = all.findIndex((s) => s.holderIdentity && s.holderIdentity !== holderId);
        return i > 0 ? all.slice(0, i + 1) : undefined;
      }, { timeoutMs: STEP.step, message: "the follower to take the Lease" });
      const released = h.at(-2)!;
      const next = h.at(-1)!;
      const lastRenewal = h.filter((s) => s.holderIdentity === holderId).at(-1)!;
      expect(released.holderIdentity).toBeUndefined(); // given up on the way out
      expect(ms(released.renewTime)).toBeGreaterThanOrEqual(ms(lastRenewal.renewTime));
      // Taken at the follower's next look after the release, not after a lapse.
      expect(ms(next.acquireTime) - ms(released.renewTime)).toBeLessThanOrEqual(RENEW_MS + REQUEST_SLACK_MS);
      expect(ms(next.acquireTime) - ms(lastRenewal.renewTime)).toBeLessThan(LEASE_MS);

      const done = new Set(unsuspended(p.jobs));
      for (const name of done) kube.kubelet.succeed(name, "ok\n");
      await waitFor(() => unsuspended(p.jobs).length === p.jobs.length, { timeoutMs: STEP.step, message: "the last two admissions, by the new holder" });
      expect(admitters()).toEqual([holder.client, holder.client, follower.client, follower.client]);
      for (const name of p.jobs.filter((n) => !done.has(n))) kube.kubelet.succeed(name, "ok\n");
      await allReported(p, p.jobs.length);
      expect(mostRunning()).toBe(MAX_RUNNING);
    },
  );
});
