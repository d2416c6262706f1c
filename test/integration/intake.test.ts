import { randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { Probot, Server } from "probot";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import type { Clock } from "../../src/clock.js";
import { createGitHubClient, type Deps } from "../../src/deps.js";
import { createIntakeHandler } from "../../src/github/intake.js";
import { Inbox } from "../../src/runs/inbox.js";
import { FakeExecutor } from "../fakes/fake-executor.js";
import { freePort } from "../support/app-process.js";
import { startGitHubStandIn, waitFor, type GitHubStandIn } from "../support/github-stand-in.js";
import { TEST_APP_ID, TEST_PRIVATE_KEY } from "../support/test-app-keys.js";
import { loadExample, sendWebhook, webhookHeaders, withInstallation } from "../support/webhooks.js";

/**
 * The webhook intake in-process, as `npm start` wires it: Probot's own server (its webhook
 * middleware on a path nobody knows), YACI's intake on WEBHOOK_PATH, the durable inbox and its
 * worker, the real handlers, and the GitHub stand-in. Octokit's own retries are off, so a retry
 * seen here is the inbox's.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const SECRET = "intake-test-webhook-secret-0123456789abcdef";
const PATH = "/api/github/webhooks";
const INSTALLATION = 880;

/** A clock whose timers fire only when the test says so. */
class ManualClock implements Clock {
  t = Date.now();
  private timers = new Map<number, { fn: () => void; at: number }>();
  private next = 1;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = this.next++;
    this.timers.set(id, { fn, at: this.t + ms });
    return id;
  };
  clearTimeout = (h: unknown) => void this.timers.delete(h as number);
  get pending(): number {
    return this.timers.size;
  }
  /** Moves time past every pending timer and fires them. */
  fireAll(): void {
    const due = [...this.timers.entries()];
    this.timers.clear();
    for (const [, t] of due) {
      this.t = Math.max(this.t, t.at);
      t.fn();
    }
  }
}

interface Harness {
  url: string;
  deps: Deps;
  fake: FakeExecutor;
  lines: Array<Record<string, unknown>>;
  dataDir: string;
  clock?: ManualClock;
  stop(): Promise<void>;
}

let github: GitHubStandIn;
let h: Harness | undefined;
let seq = 0;

beforeAll(async () => {
  github = await startGitHubStandIn();
});
afterAll(async () => {
  await github.close();
});
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

async function start(opts: { clock?: ManualClock; retryDelaysMs?: number[]; dataDir?: string } = {}): Promise<Harness> {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const client = createGitHubClient();
  const Octokit = (client.Octokit as Any).defaults((o: Any) => ({ ...o, retry: { enabled: false } }));
  const port = await freePort();
  const server = new Server({
    Probot: Probot.defaults({ appId: TEST_APP_ID, privateKey: TEST_PRIVATE_KEY, secret: SECRET, baseUrl: github.baseUrl, Octokit, log: log as Any }),
    host: "127.0.0.1",
    port,
    webhookPath: `/internal/${randomUUID()}`,
    log: log as Any,
  });
  const fake = new FakeExecutor();
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "yaci-intake-"));
  let deps!: Deps;
  await server.load(
    createApp(
      { YACI_DATA_DIR: dataDir, YACI_CATCHUP_INTERVAL: "off", YACI_INBOX_CONCURRENCY: "4" },
      { github: client, executor: fake, intake: { path: PATH, secret: SECRET }, inboxRetryDelaysMs: opts.retryDelaysMs ?? [20], inboxClock: opts.clock },
      (d) => (deps = d),
    ),
  );
  await server.start();
  return {
    url: `http://127.0.0.1:${port}${PATH}`,
    deps,
    fake,
    lines,
    dataDir,
    clock: opts.clock,
    stop: async () => {
      await deps.inboxWorker.close();
      await deps.reporter.idle();
      await server.stop();
    },
  };
}

/** A push of a fresh commit of `owner/repo` (repository id `repoId`) holding `.yaci.yml`. */
function push(opts: { owner?: string; repo?: string; repoId?: number; installation?: number; config?: string | null } = {}) {
  const owner = opts.owner ?? "Codertocat";
  const repo = opts.repo ?? "Hello-World";
  const sha = (++seq).toString(16).padStart(8, "0") + "1ace".repeat(8);
  const p: Any = withInstallation(loadExample("push", (x) => x.ref.startsWith("refs/heads/") && !x.deleted), opts.installation ?? INSTALLATION);
  p.after = sha;
  p.ref = `refs/heads/intake-${seq}`;
  p.repository = { ...p.repository, id: opts.repoId ?? p.repository.id, name: repo, full_name: `${owner}/${repo}`, owner: { ...p.repository.owner, login: owner, name: owner } };
  if (opts.config !== null) github.setFiles(owner, repo, sha, { ".yaci.yml": opts.config ?? "run: make test\n" });
  return { sha, owner, repo, payload: p };
}

const send = (payload: unknown, opts: { deliveryId?: string; event?: string; badSignature?: boolean } = {}) =>
  sendWebhook(h!.url, { event: opts.event ?? "push", payload, secret: SECRET, deliveryId: opts.deliveryId, badSignature: opts.badSignature });
const configReads = (sha: string) => github.requestsTo("GET", "/contents/.yaci.yml").filter((r) => r.query.ref === sha);
const runsOf = (c: { owner: string; repo: string; sha: string }) => github.checkRunsFor(c.owner, c.repo, c.sha);
const logged = (msg: string) => h!.lines.filter((l) => l.msg === msg);
const handled = (id: string) => waitFor(() => h!.lines.find((l) => l.msg === "delivery handled" && l.delivery === id), { message: `delivery ${id} handled` });
const metric = async (name: string) => {
  const text = await h!.deps.metrics.text();
  return Number(new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
};

describe("the webhook intake", () => {
  it("answers 202 as soon as the delivery is stored, while its handling still waits for GitHub; then handles it once", async () => {
    h = await start();
    const c = push();
    const held = github.hold({ pathPattern: "/contents/.yaci.yml" });
    expect(await send(c.payload, { deliveryId: "slow-1" })).toBe(202);
    await waitFor(() => held.waiting() === 1, { message: "the config read to be held" });
    expect(runsOf(c)).toEqual([]);
    expect(await metric("yaci_inbox_depth")).toBe(1);
    held.release();
    await waitFor(() => runsOf(c).length === 1, { message: "the queued check run" });
    await handled("slow-1");
    expect(runsOf(c)[0]).toMatchObject({ name: "build", status: "queued" });
    expect(await metric("yaci_inbox_depth")).toBe(0);
    expect(await metric('yaci_inbox_handling_seconds_count{outcome="handled"}')).toBe(1);
  });

  it("a transient error (502 on the config read) is retried from the inbox and completes", async () => {
    h = await start({ retryDelaysMs: [20] });
    const c = push();
    github.failNext({ method: "GET", pathPattern: "/contents/.yaci.yml", status: 502, times: 2 });
    expect(await send(c.payload, { deliveryId: "flaky-1" })).toBe(202);
    await handled("flaky-1");
    await waitFor(() => runsOf(c).length === 1, { message: "the queued check run" });
    expect(h.fake.started.filter((s) => s.key.sha === c.sha)).toHaveLength(1);
    expect(configReads(c.sha)).toHaveLength(3);
    expect(logged("delivery failed for now; the inbox tries it again").map((l) => [l.delivery, l.attempt, l.reason])).toEqual([
      ["flaky-1", 1, expect.stringMatching(/^502 /)],
      ["flaky-1", 2, expect.stringMatching(/^502 /)],
    ]);
    expect(await metric('yaci_inbox_handling_seconds_count{outcome="retry"}')).toBe(2);
  });

  it("a permanent error (403: the installation may not read contents) is logged once and dropped, never retried", async () => {
    h = await start({ retryDelaysMs: [20] });
    const gone = 881;
    github.addInstallation(gone, { permissions: { metadata: "read", checks: "write" } });
    const c = push({ installation: gone });
    expect(await send(c.payload, { deliveryId: "gone-1" })).toBe(202);
    const [line] = await waitFor(() => {
      const l = logged("delivery dropped: its handling failed and would fail again");
      return l.length > 0 ? l : undefined;
    });
    expect(line).toMatchObject({ delivery: "gone-1", event: "push", reason: expect.stringMatching(/^403 /) });
    await waitFor(async () => (await metric("yaci_inbox_depth")) === 0);
    expect(configReads(c.sha).map((r) => r.status)).toEqual([403]);
    expect(logged("delivery dropped: its handling failed and would fail again")).toHaveLength(1);
    expect(logged("delivery failed for now; the inbox tries it again")).toEqual([]);
    expect(JSON.stringify(line)).not.toContain(c.sha); // the reason, not the payload
    expect(await metric('yaci_inbox_handling_seconds_count{outcome="dropped"}')).toBe(1);
  });

  it("a repository the installation cannot see (404 on its config) is handled once: nothing runs, nothing is retried", async () => {
    h = await start({ retryDelaysMs: [20] });
    github.addInstallation(882, { repositories: ["some-other-repo"] });
    const c = push({ installation: 882 });
    expect(await send(c.payload, { deliveryId: "hidden-1" })).toBe(202);
    await handled("hidden-1");
    expect(configReads(c.sha).map((r) => r.status)).toEqual([404]);
    expect(runsOf(c)).toEqual([]);
    expect(logged("delivery failed for now; the inbox tries it again")).toEqual([]);
  });

  it("handles one repository's deliveries in arrival order while another repository's are not held up", async () => {
    const clock = new ManualClock();
    h = await start({ clock, retryDelaysMs: [60_000] });
    const a1 = push({ repo: "repo-a", repoId: 9001 });
    const a2 = push({ repo: "repo-a", repoId: 9001 });
    const b1 = push({ repo: "repo-b", repoId: 9002 });
    // a1 fails once (502): its retry waits on the clock, and a2 waits behind it.
    github.failNext({ method: "GET", pathPattern: new RegExp(`^/repos/Codertocat/repo-a/contents/\\.yaci\\.yml$`), status: 502 });
    expect(await send(a1.payload, { deliveryId: "a1" })).toBe(202);
    await waitFor(() => clock.pending === 1, { message: "a1's retry to be scheduled" });
    expect(await send(a2.payload, { deliveryId: "a2" })).toBe(202);
    expect(await send(b1.payload, { deliveryId: "b1" })).toBe(202);
    await handled("b1");
    await waitFor(() => runsOf(b1).length === 1, { message: "b1's check run" });
    // Repository a: nothing of a2 was even read while a1 waits.
    expect(runsOf(a1)).toEqual([]);
    expect(configReads(a2.sha)).toEqual([]);
    clock.fireAll();
    await handled("a2");
    await waitFor(() => runsOf(a1).length === 1 && runsOf(a2).length === 1, { message: "a1's and a2's check runs" });
    const [r1] = runsOf(a1);
    const [r2] = runsOf(a2);
    expect(r1!.id).toBeLessThan(r2!.id);
    expect(configReads(a1.sha).at(-1)!.index).toBeLessThan(configReads(a2.sha)[0]!.index);
  });

  it("a replayed body under a new delivery id, and a redelivery, run nothing", async () => {
    h = await start();
    const c = push();
    expect(await send(c.payload, { deliveryId: "orig-1" })).toBe(202);
    await handled("orig-1");
    expect(await send(c.payload, { deliveryId: "replay-1" })).toBe(200);
    expect(await send(c.payload, { deliveryId: "orig-1" })).toBe(200);
    expect(h.fake.started.filter((s) => s.key.sha === c.sha)).toHaveLength(1);
    expect(configReads(c.sha)).toHaveLength(1);
    expect(await metric('yaci_webhook_deliveries_total{event="push",outcome="duplicate"}')).toBe(2);
  });

  it("two copies of one body under different ids, sent at once, run once", async () => {
    h = await start();
    const c = push();
    const held = github.hold({ pathPattern: "/contents/.yaci.yml" });
    const answers = await Promise.all([send(c.payload, { deliveryId: "twin-1" }), send(c.payload, { deliveryId: "twin-2" })]);
    expect(answers.sort()).toEqual([200, 202]);
    held.release();
    await waitFor(() => runsOf(c).length === 1, { message: "the check run" });
    await h.deps.inboxWorker.idle();
    expect(configReads(c.sha)).toHaveLength(1);
  });

  it("a bad signature answers 400, stores nothing, and logs no payload", async () => {
    h = await start();
    const c = push();
    expect(await send(c.payload, { deliveryId: "forged-1", badSignature: true })).toBe(400);
    const [line] = logged("webhook refused: its signature does not match WEBHOOK_SECRET");
    expect(line).toMatchObject({ delivery: "forged-1", event: "push" });
    expect(h.lines.map((l) => JSON.stringify(l)).join("\n")).not.toContain(c.sha);
    expect(h.deps.inbox.depth).toBe(0);
    const segments = readdirSync(join(h.dataDir, "inbox"));
    expect(segments.map((f) => readFileSync(join(h!.dataDir, "inbox", f), "utf8")).join("")).toBe("");
    expect(configReads(c.sha)).toEqual([]);
  });

  it("refuses what is not a webhook: a wrong method (405), missing headers (400), another content type (415), a body over 25 MB (413)", async () => {
    h = await start();
    expect((await fetch(h.url)).status).toBe(405);
    expect((await fetch(h.url, { method: "POST", body: "{}" })).status).toBe(400);
    const body = JSON.stringify(push().payload);
    const headers = webhookHeaders(body, { event: "push", secret: SECRET });
    expect((await fetch(h.url, { method: "POST", headers: { ...headers, "content-type": "application/x-www-form-urlencoded" }, body })).status).toBe(415);
    // 26 MB, streamed with no Content-Length: counted as it arrives.
    const chunk = Buffer.alloc(1 << 20, 0x20);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        if (sent++ < 26) ctrl.enqueue(chunk);
        else ctrl.close();
      },
    });
    const res = await fetch(h.url, { method: "POST", headers, body: stream, duplex: "half" } as RequestInit).catch((err: unknown) => err as Error);
    expect(res instanceof Response ? res.status : String(res)).toBe(413);
  });

  it("WEBHOOK_PATH is the intake's (with a query string too); a neighbouring path is no webhook endpoint (404)", async () => {
    h = await start();
    const c = push();
    const body = JSON.stringify(c.payload);
    const headers = webhookHeaders(body, { event: "push", secret: SECRET });
    // The public path is YACI's; a query string does not change that.
    expect((await fetch(`${h.url}?x=1`, { method: "POST", headers, body })).status).toBe(202);
    expect((await fetch(`${h.url}/`, { method: "POST", headers, body })).status).toBe(404);
  });
});

describe("the webhook intake on a full disk", () => {
  it("answers 503 (GitHub should send it again), stores nothing, and takes the redelivery once there is room", async () => {
    let full = true;
    const inbox = new Inbox(mkdtempSync(join(tmpdir(), "yaci-intake-full-")), {
      writeDurably: async (f, data) => {
        if (full) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
        await f.writev(data);
        await f.datasync();
      },
    });
    const lines: Array<Record<string, unknown>> = [];
    const handler = createIntakeHandler({
      path: PATH,
      secret: SECRET,
      inbox,
      deliveries: { seen: () => false },
      log: { info: () => {}, warn: () => {}, error: (fields) => void lines.push(fields as Record<string, unknown>) },
    });
    const server = createServer((req, res) => void handler(req, res).then((done) => done || res.writeHead(404).end()));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${PATH}`;
    try {
      const c = push();
      const res = await fetch(url, { method: "POST", headers: webhookHeaders(JSON.stringify(c.payload), { event: "push", secret: SECRET, deliveryId: "full-1" }), body: JSON.stringify(c.payload) });
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("60");
      expect(lines).toEqual([expect.objectContaining({ delivery: "full-1", code: "ENOSPC" })]);
      expect(inbox.depth).toBe(0);
      full = false;
      expect(await sendWebhook(url, { event: "push", payload: c.payload, secret: SECRET, deliveryId: "full-1" })).toBe(202);
      expect(inbox.pending().map((e) => e.id)).toEqual(["full-1"]);
    } finally {
      server.close();
      await inbox.close();
    }
  });
});
