import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandIn, waitFor, type GitHubStandIn } from "../support/github-stand-in.js";
import { e2eBudget, startApp, STEP_MS, type AppProcess } from "../support/app-process.js";
import { KubeStandIn } from "../support/kube-stand-in.js";
import { loadExample, sendWebhook, withInstallation } from "../support/webhooks.js";
import { yaci } from "../cli/yaci-process.js";

/**
 * Issue 14, acceptance 3, on both executors with the real app: a job reads its secrets (set with
 * `yaci secret set`); their values (plain, each line, base64) appear nowhere YACI writes or shows
 * (check runs, run page, GET /get, every file of the data dir but the store, the app's log); a
 * fork's pull request approved with /ok-to-test runs without them and says so; a missing secret
 * fails the job, naming it.
 */

type Any = any; // eslint-disable-line @typescript-eslint/no-explicit-any
const INSTALLATION = 414;
const API_TOKEN = "secrets-e2e-api-token-0123456789abcdef";
const VALUE = "e2e-secret-VALUE-7f3a9c";
const MULTI = "-----BEGIN E2E KEY-----\nMULTIline-alpha-4821\nMULTIline-bravo-9917\n-----END E2E KEY-----";
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

/** Every form of the secrets that must not surface: the values, their lines, their base64 (as `base64` wraps it). */
const FORMS = [VALUE, MULTI].flatMap((v) => {
  const lines = v.split("\n").filter((l) => l.length >= 4);
  return [v, b64(v), ...b64(v).match(/.{1,76}/g)!.filter((c) => c.length >= 8), ...lines, ...lines.map(b64)];
});

const JOB = [
  "secrets: [S, M]",
  "jobs:",
  "  build:",
  "    run: |",
  '      printf %s "$S" | sha256sum',
  '      printf %s "$M" | sha256sum',
  '      echo "plain: $S"',
  "      printf '%s\\n' \"$M\"",
  '      printf %s "$S" | base64',
  '      printf %s "$M" | base64',
  '      echo "S=[${S:-unset}]"',
  "",
].join("\n");

let github: GitHubStandIn;
let kube: KubeStandIn;
let seq = 0;

beforeAll(async () => {
  github = await startGitHubStandIn();
  kube = await KubeStandIn.start();
});
afterAll(async () => {
  await kube?.close();
  await github?.close();
});

function files(dir: string, skip: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (p === skip) return [];
    return statSync(p).isDirectory() ? files(p, skip) : [p];
  });
}

interface Flavour {
  name: "local" | "kubernetes";
  /** Environment of the app and of `yaci secret`. */
  env(dataDir: string): Record<string, string>;
  /** Runs the job of `sha` (Kubernetes: the stand-in's kubelet runs its command; local: it runs by itself). */
  runJob(sha: string): Promise<void>;
}

const jobFor = (sha: string) =>
  waitFor(
    () => {
      const name = kube.list("jobs").find((j) => j.metadata.annotations?.["yaci.dev/sha"] === sha)?.metadata.name as string | undefined;
      return name && kube.kubelet.pod(name) ? name : undefined;
    },
    { timeoutMs: 45_000, message: `the Job of ${sha} and its pod` },
  );

const FLAVOURS: Flavour[] = [
  { name: "local", env: () => ({}), runJob: async () => {} },
  {
    name: "kubernetes",
    env: (dataDir) => ({ YACI_EXECUTOR: "kubernetes", KUBECONFIG: kube.writeKubeconfig(dataDir) }),
    runJob: async (sha) => void (await kube.kubelet.execute(await jobFor(sha))),
  },
];

const STEP = { cli: 30_000, start: STEP_MS.appStart, stop: STEP_MS.appStop, run: 60_000, fork: 90_000, scan: 20_000 };

describe.each(FLAVOURS)("secrets end to end ($name executor)", (flavour) => {
  it(
    "the job reads its secrets; values, lines and base64 appear in no check run, run page, GET /get, data file or app log; a fork runs without them; a missing one fails",
    { timeout: e2eBudget({ cli: STEP.cli * 2, start: STEP.start, run: STEP.run, missing: STEP.run, fork: STEP.fork, scan: STEP.scan, stop: STEP.stop }) },
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), `yaci-e2e-secrets-${flavour.name}-`));
      const env = { YACI_DATA_DIR: dataDir, ...flavour.env(dataDir) };
      const push0 = withInstallation(loadExample("push", (p) => p.ref.startsWith("refs/heads/") && !p.deleted), INSTALLATION) as Any;
      const owner = push0.repository.owner.login as string;
      const repo = push0.repository.name as string;
      // The operator stores them with the CLI: S for the repository, M (multi-line) for the owner.
      expect((await yaci(["secret", "set", `${owner}/${repo}`, "S"], { cwd: dataDir, env, input: `${VALUE}\n` })).code).toBe(0);
      expect((await yaci(["secret", "set", owner, "M"], { cwd: dataDir, env, input: MULTI })).code).toBe(0);

      const app: AppProcess = await startApp({
        github,
        dataDir,
        env: { ...env, YACI_API_TOKEN: API_TOKEN, YACI_PUBLIC_URL: "http://public.invalid", YACI_LINK_SECRET: "secrets-e2e-link-secret-0123456789abcdef", YACI_CATCHUP_INTERVAL: "off" },
      });
      try {
        github.setPermission(owner, repo, "maintainer", "write");
        const completed = (sha: string) =>
          waitFor(() => github.checkRunsFor(owner, repo, sha).find((r) => r.name === "build" && r.status === "completed"), { timeoutMs: STEP.run, message: `the check run of ${sha}` });
        const push = async (config: string) => {
          const sha = `5ec${(++seq).toString(16).padStart(5, "0")}${flavour.name === "local" ? "aa" : "bb"}`.padEnd(40, "e");
          const p = structuredClone(push0);
          p.after = sha;
          p.ref = `refs/heads/secrets-${seq}`;
          github.setFiles(owner, repo, sha, { ".yaci.yml": config });
          expect(await sendWebhook(app.webhookUrl, { event: "push", payload: p, secret: app.webhookSecret })).toBe(202);
          return sha;
        };

        // 1. A push: the job reads both secrets (their digests prove it) and prints them every way.
        const sha = await push(JOB);
        await flavour.runJob(sha);
        const run = await completed(sha);
        expect(run.conclusion).toBe("success");
        const text = run.output?.text ?? "";
        expect(text).toContain(sha256(VALUE));
        expect(text).toContain(sha256(MULTI));
        expect(text).toContain("plain: ***");

        // 2. A missing secret fails the job before it starts, naming it.
        const missing = await push("secrets: [NOPE_TOKEN]\nrun: echo never\n");
        const failed = await completed(missing);
        expect(failed.conclusion).not.toBe("success");
        expect(JSON.stringify(failed.output)).toContain("secret NOPE_TOKEN does not exist");

        // 3. A fork's pull request, approved with /ok-to-test: runs without the secrets, and says so.
        const base = await push(JOB); // the base branch's config is the one a fork's job runs
        await flavour.runJob(base);
        await completed(base);
        const head = `f0${(++seq).toString(16).padStart(6, "0")}`.padEnd(40, "c");
        github.setFiles(owner, repo, head, { ".yaci.yml": "run: echo the fork's own config is not used\n" });
        const pr = withInstallation(loadExample("pull_request", (x) => x.action === "opened"), INSTALLATION) as Any;
        github.setRef(owner, repo, pr.pull_request.base.ref, base);
        pr.number = pr.pull_request.number = 77 + seq;
        pr.pull_request.head.sha = head;
        pr.pull_request.user.login = "mallory";
        pr.pull_request.head.repo = { ...pr.pull_request.head.repo, id: 9999, full_name: "mallory/fork" };
        github.setPull(owner, repo, pr.number, { ...pr.pull_request });
        expect(await sendWebhook(app.webhookUrl, { event: "pull_request", payload: pr, secret: app.webhookSecret })).toBe(202);
        await waitFor(() => github.checkRunsFor(owner, repo, head).find((r) => r.name === "yaci/approval"), { timeoutMs: STEP.run, message: "the approval gate" });
        const c = withInstallation(loadExample("issue_comment", (x) => x.action === "created"), INSTALLATION) as Any;
        c.issue.number = pr.number;
        c.issue.pull_request = { url: `https://api.github.com/repos/${owner}/${repo}/pulls/${pr.number}` };
        c.comment = { ...c.comment, id: 5000 + seq, body: "/ok-to-test", created_at: new Date().toISOString(), user: { ...c.comment.user, login: "maintainer", type: "User" } };
        c.sender = { ...c.sender, login: "maintainer", type: "User" };
        expect(await sendWebhook(app.webhookUrl, { event: "issue_comment", payload: c, secret: app.webhookSecret })).toBe(202);
        await flavour.runJob(head);
        const forked = await completed(head);
        expect(forked.conclusion).toBe("success");
        expect(forked.output?.summary).toContain("**Secrets:** not given (this pull request comes from a fork): `S`, `M`");
        expect(forked.output?.text).toContain("S=[unset]");

        // 4. Nothing shows or stores the values: check runs, run page and its log, GET /get, data files, the app's log.
        const surfaces: Array<[string, string]> = [];
        for (const s of [sha, missing, base, head]) {
          for (const r of github.checkRunsFor(owner, repo, s)) {
            surfaces.push([`check run ${r.name}@${s.slice(0, 7)}`, JSON.stringify(r)]);
            if (r.name !== "build" || !r.details_url) continue;
            const link = new URL(r.details_url);
            const page = await fetch(`${app.url}${link.pathname}${link.search}`);
            expect(page.status).toBe(200);
            surfaces.push([`run page of ${s.slice(0, 7)}`, await page.text()]);
            surfaces.push([`run page log of ${s.slice(0, 7)}`, await (await fetch(`${app.url}${link.pathname}/log${link.search}`)).text()]);
            const get = await fetch(`${app.url}/get?id=${r.external_id}`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
            expect(get.status).toBe(200);
            surfaces.push([`GET /get of ${s.slice(0, 7)}`, await get.text()]);
          }
        }
        expect(surfaces.some(([, t]) => t.includes("plain: ***"))).toBe(true);
        if (flavour.name === "kubernetes") surfaces.push(["the Jobs and pods", JSON.stringify([kube.list("jobs"), kube.list("pods")])]);
        for (const f of files(dataDir, join(dataDir, "secrets"))) surfaces.push([f, readFileSync(f, "latin1")]);
        surfaces.push(["the app's log", app.logs().join("\n")]);
        const leaks = surfaces.flatMap(([where, t]) => FORMS.filter((form) => t.includes(form)).map((form) => `${where}: ${form}`));
        expect(leaks).toEqual([]);
      } finally {
        await app.stop();
      }
    },
  );
});
