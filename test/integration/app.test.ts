import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import nock from "nock";
import { Probot, ProbotOctokit } from "probot";
import examples from "@octokit/webhooks-examples";
import { createApp } from "../../src/app.js";
import type { Deps } from "../../src/deps.js";
import { FakeExecutor } from "../fakes/fake-executor.js";
import { TEST_PRIVATE_KEY } from "../support/test-app-keys.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const all = examples as unknown as { name: string; examples: Any[] }[];
const INSTALLATION = 2;
const pushPayload = () => {
  const p = structuredClone(all.find((e) => e.name === "push")!.examples.find((x) => x.ref.startsWith("refs/heads/") && !x.deleted));
  p.installation = { id: INSTALLATION };
  return p;
};
const prPayload = (sha: string) => {
  const p = structuredClone(all.find((e) => e.name === "pull_request")!.examples.find((x) => x.action === "opened"));
  p.installation = { id: INSTALLATION };
  p.pull_request.head.sha = sha;
  return p;
};

const API = "https://api.github.com";
const CONFIG = `image: node:22-alpine
jobs:
  test:
    run: npm test
  lint:
    run: npm run lint
`;

interface Write {
  method: string;
  id?: number;
  body: Any;
}

let probot: Probot;
let deps: Deps;
let fake: FakeExecutor;
let writes: Write[];
let dataDir: string;

function mockGitHub(owner: string, repo: string) {
  let nextId = 100;
  nock(API)
    .persist()
    .post(`/app/installations/${INSTALLATION}/access_tokens`)
    .reply(201, { token: "ghs_installation", expires_at: "2099-01-01T00:00:00Z", permissions: { checks: "write" } })
    .post(`/repos/${owner}/${repo}/check-runs`)
    .reply(async (req: Request) => {
      const id = nextId++;
      writes.push({ method: "create", id, body: await req.json() });
      return [201, { id }];
    })
    .patch(new RegExp(`/repos/${owner}/${repo}/check-runs/\\d+`))
    .reply(async (req: Request) => {
      writes.push({ method: "update", id: Number(new URL(req.url).pathname.split("/").pop()), body: await req.json() });
      return [200, {}];
    });
}

function mockConfig(owner: string, repo: string, sha: string, text: string | null) {
  const scope = nock(API).get(`/repos/${owner}/${repo}/contents/.yaci.yml`).query({ ref: sha });
  if (text === null) scope.reply(404, { message: "Not Found" });
  else scope.reply(200, { type: "file", encoding: "base64", content: Buffer.from(text).toString("base64") });
}

async function load(dir = dataDir) {
  fake = new FakeExecutor();
  probot = new Probot({
    appId: 1,
    privateKey: TEST_PRIVATE_KEY,
    secret: "webhook-secret",
    // A function: Probot passes its own throttle options, which would replace a plain object's.
    Octokit: ProbotOctokit.defaults((o: Any) => ({ ...o, retry: { enabled: false }, throttle: { ...o.throttle, enabled: false } })),
    logLevel: "warn",
  });
  await probot.load(
    createApp({ YACI_DATA_DIR: dir, YACI_CATCHUP_INTERVAL: "off" }, { executor: fake, reporterRetryDelaysMs: [10, 10, 10] }, (d) => (deps = d)),
    { cwd: process.cwd(), addHandler: () => {} },
  );
}

beforeEach(async () => {
  nock.disableNetConnect();
  writes = [];
  dataDir = mkdtempSync(join(tmpdir(), "yaci-app-"));
  await load();
});

afterEach(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

const settle = async () => {
  await new Promise((r) => setTimeout(r, 20));
  await deps.reporter.idle();
};

describe("webhook → check runs (Probot + nock)", () => {
  it("a push creates one queued check run per job, then in_progress, then completed with the log", async () => {
    const p = pushPayload();
    const [owner, repo] = [p.repository.owner.login, p.repository.name];
    mockGitHub(owner, repo);
    mockConfig(owner, repo, p.after, CONFIG);
    await probot.receive({ id: "d1", name: "push", payload: p });
    await settle();
    expect(fake.started.map((s) => [s.key.job, s.key.sha, s.image, s.run])).toEqual([
      ["test", p.after, "node:22-alpine", "npm test"],
      ["lint", p.after, "node:22-alpine", "npm run lint"],
    ]);
    expect(writes.map((w) => [w.method, w.body.name, w.body.status, w.body.head_sha])).toEqual([
      ["create", "test", "queued", p.after],
      ["create", "lint", "queued", p.after],
    ]);
    expect(writes[0]!.body.external_id).toBe(fake.started[0]!.id);

    const id = fake.started[0]!.id;
    fake.run(id, new Date("2026-11-29T10:00:00Z"));
    await settle();
    await deps.logs.write(id, "\u001b[31mtests failed\u001b[0m\n");
    fake.finish(id, "failed", 2, new Date("2026-11-29T10:00:41Z"));
    await settle();
    expect(writes.slice(2).map((w) => [w.method, w.body.status, w.body.conclusion, w.body.output.title])).toEqual([
      ["update", "in_progress", undefined, "Running"],
      ["update", "completed", "failure", "Failed: exit code 2 after 41s"],
    ]);
    const final = writes[3]!.body;
    expect(final.started_at).toBe("2026-11-29T10:00:00.000Z");
    expect(final.completed_at).toBe("2026-11-29T10:00:41.000Z");
    expect(final.output.text).toBe("```text\ntests failed\n```\n");
    expect(final.output.summary).toContain("| Exit code | 2 |");
    expect(final.actions).toEqual([]);
  });

  it("a pull request on a SHA that a push already ran starts nothing new", async () => {
    const p = pushPayload();
    const [owner, repo] = [p.repository.owner.login, p.repository.name];
    mockGitHub(owner, repo);
    mockConfig(owner, repo, p.after, CONFIG);
    mockConfig(owner, repo, p.after, CONFIG);
    await probot.receive({ id: "d1", name: "push", payload: p });
    await probot.receive({ id: "d2", name: "pull_request", payload: prPayload(p.after) });
    await settle();
    expect(fake.started).toHaveLength(2);
    expect(writes.filter((w) => w.method === "create")).toHaveLength(2);
  });

  it("a broken .yaci.yml becomes one failed check run named yaci that quotes the line", async () => {
    const p = pushPayload();
    const [owner, repo] = [p.repository.owner.login, p.repository.name];
    mockGitHub(owner, repo);
    mockConfig(owner, repo, p.after, "jobs:\n  test:\n    run: npm test\n    timout: 5m\n");
    await probot.receive({ id: "d1", name: "push", payload: p });
    await settle();
    expect(fake.started).toEqual([]);
    expect(writes).toHaveLength(1);
    const body = writes[0]!.body;
    expect(body).toMatchObject({ name: "yaci", status: "completed", conclusion: "failure", head_sha: p.after });
    expect(body.output.title).toBe("Invalid .yaci.yml");
    expect(body.output.summary).toContain("timout: 5m");
    expect(body.output.summary).toMatch(/line 4/);
    expect(body.output.summary).toContain("timeout");
  });

  it("a repository without .yaci.yml gets no check runs", async () => {
    const p = pushPayload();
    mockConfig(p.repository.owner.login, p.repository.name, p.after, null);
    nock(API).post(`/app/installations/${INSTALLATION}/access_tokens`).reply(201, { token: "t", expires_at: "2099-01-01T00:00:00Z" });
    await probot.receive({ id: "d1", name: "push", payload: p });
    await settle();
    expect(fake.started).toEqual([]);
    expect(nock.isDone()).toBe(true);
  });

  it("refuses a webhook with a bad signature and runs nothing", async () => {
    const p = pushPayload();
    await expect(
      probot.webhooks.verifyAndReceive({ id: "d1", name: "push", payload: JSON.stringify(p), signature: "sha256=" + "0".repeat(64) }),
    ).rejects.toThrow(/signature does not match/);
    expect(fake.started).toEqual([]);
  });

  it("retries a check-run write through a GitHub outage and loses nothing", async () => {
    const p = pushPayload();
    const [owner, repo] = [p.repository.owner.login, p.repository.name];
    nock(API).post(`/repos/${owner}/${repo}/check-runs`).times(2).reply(502, { message: "Bad gateway" });
    // A 502 may hide a check run that was created after all: YACI looks for it before creating another.
    const lookups = nock(API)
      .get(`/repos/${owner}/${repo}/commits/${p.after}/check-runs`)
      .query({ check_name: "build", filter: "all" })
      .times(2)
      .reply(200, { total_count: 0, check_runs: [] });
    mockGitHub(owner, repo);
    mockConfig(owner, repo, p.after, "run: echo hi\n");
    await probot.receive({ id: "d1", name: "push", payload: p });
    await new Promise((r) => setTimeout(r, 200));
    await settle();
    expect(writes.map((w) => [w.method, w.body.name, w.body.status])).toEqual([["create", "build", "queued"]]);
    expect(lookups.isDone()).toBe(true);
  });

  it("after a restart, reports a run that was in progress as interrupted, exactly once", async () => {
    const p = pushPayload();
    const [owner, repo] = [p.repository.owner.login, p.repository.name];
    mockGitHub(owner, repo);
    mockConfig(owner, repo, p.after, "run: sleep 100\n");
    await probot.receive({ id: "d1", name: "push", payload: p });
    await settle();
    fake.run(fake.started[0]!.id);
    await settle();
    expect(writes.map((w) => w.body.status)).toEqual(["queued", "in_progress"]);

    await load(); // same data dir: the app restarted; the fake executor knows nothing of the run
    await settle();
    expect(writes.map((w) => w.body.status)).toEqual(["queued", "in_progress", "completed"]);
    expect(writes[2]).toMatchObject({ method: "update", body: { conclusion: "failure", output: { title: "Failed: interrupted: the runner restarted" } } });

    await load(); // and once more: nothing new is written
    await settle();
    expect(writes).toHaveLength(3);
  });
});
