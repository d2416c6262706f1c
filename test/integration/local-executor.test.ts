import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import * as tar from "tar";
import { request as httpRequest } from "node:http";
import { makeRepo, startGitHttpServer } from "../support/git-http-server.js";
import { LocalExecutor } from "../../src/executors/local/local-executor.js";
import { localContainment } from "../../src/executors/local/sandbox.js";
import type { JobObservation } from "../../src/executors/executor.js";
import { LogStore } from "../../src/logs/log-store.js";
import { fakeSpec } from "../fakes/records.js";
import type { RunSpec } from "../../src/core/run.js";

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanup) fn();
  cleanup = [];
});

/** Every test runs both ways a job can run: in the sandbox, and (YACI_LOCAL_SANDBOX=off) without it. */
const MODES = ["required", "off"] as const;
let mode: (typeof MODES)[number] = "required";

async function setup(opts: { concurrency?: number; apiUrl?: string } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "yaci-local-"));
  const logs = new LogStore(dataDir);
  const tokens: string[] = [];
  const containment = await localContainment({ YACI_LOCAL_SANDBOX: mode }, dataDir);
  const executor = new LocalExecutor({
    dataDir,
    logs,
    concurrency: opts.concurrency ?? 2,
    githubApiUrl: opts.apiUrl ?? "http://127.0.0.1:1",
    killGraceMs: 200,
    containment,
    checkoutRetryDelaysMs: [20, 20], // GitHub unreachable (a closed port) is asked twice more, briefly
    checkoutToken: async () => {
      tokens.push("ghs_scopedtoken123");
      return "ghs_scopedtoken123";
    },
  });
  const seen: JobObservation[] = [];
  executor.subscribe((o) => seen.push(o));
  /** The run's `finished`, as soon as it is emitted; fails after `timeoutMs` instead of waiting out a job. */
  const finished = (id: string, timeoutMs = 25_000) =>
    new Promise<Extract<JobObservation, { phase: "finished" }>>((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const check = () => {
        const f = seen.find((o) => o.runId === id && o.phase === "finished");
        if (f && f.phase === "finished") resolve(f);
        else if (Date.now() > deadline) reject(new Error(`${id} did not finish within ${timeoutMs} ms; saw ${JSON.stringify(seen.filter((o) => o.runId === id).map((o) => o.phase))}`));
        else setTimeout(check, 20);
      };
      check();
    });
  /** Resolves once the run's log holds `text` (the job's process has started and written it). */
  const logged = (id: string, text: string, timeoutMs = 25_000) =>
    new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const check = () => {
        if (existsSync(logs.path(id)) && readFileSync(logs.path(id), "utf8").includes(text)) resolve();
        else if (Date.now() > deadline) reject(new Error(`${id}: "${text.trim()}" not in its log within ${timeoutMs} ms`));
        else setTimeout(check, 20);
      };
      check();
    });
  cleanup.push(() => void executor.close());
  return { dataDir, logs, executor, seen, finished, logged, tokens, containment };
}

const spec = (id: string, run: string, over: Partial<RunSpec> = {}) => fakeSpec({ id, run, checkout: false, ...over });

describe.each(MODES)("LocalExecutor (YACI_LOCAL_SANDBOX=%s)", (m) => {
  beforeAll(() => {
    mode = m;
  });

  it("runs a command, streams its output to the log and reports success", async () => {
    const { executor, finished, logs, seen } = await setup();
    await executor.start(spec("ok-1", "echo great success; echo to stderr >&2"));
    const f = await finished("ok-1");
    expect(f).toMatchObject({ outcome: "succeeded", exitCode: 0 });
    expect(readFileSync(logs.path("ok-1"), "utf8")).toBe("great success\nto stderr\n");
    expect(seen.filter((o) => o.runId === "ok-1").map((o) => o.phase)).toEqual(["pending", "running", "finished"]);
  });

  it("reports a failing command with its exit code (sh -e stops at the first failure)", async () => {
    const { executor, finished, logs } = await setup();
    await executor.start(spec("fail-1", "echo before\nfalse\necho never"));
    expect(await finished("fail-1")).toMatchObject({ outcome: "failed", exitCode: 1 });
    expect(readFileSync(logs.path("fail-1"), "utf8")).toBe("before\n");
    await executor.start(spec("fail-2", "exit 7"));
    expect(await finished("fail-2")).toMatchObject({ outcome: "failed", exitCode: 7 });
  });

  it("kills the whole process group when the timeout passes", async () => {
    const { executor, finished, logs } = await setup();
    await executor.start(spec("slow-1", "sleep 30 & echo started; sleep 30; echo never", { timeoutMs: 300 }));
    const f = await finished("slow-1");
    expect(f.outcome).toBe("timed_out");
    expect(readFileSync(logs.path("slow-1"), "utf8")).toBe("started\n");
  });

  it("ends when the script ends, killing what it left in the background", async () => {
    const { executor, finished, logs } = await setup();
    await executor.start(spec("bg-1", "sleep 61.7 & echo started"));
    const f = await finished("bg-1");
    expect(f).toMatchObject({ outcome: "succeeded", exitCode: 0 });
    expect(readFileSync(logs.path("bg-1"), "utf8")).toBe("started\n");
    const { execSync } = await import("node:child_process");
    expect(execSync("ps -eo args").toString()).not.toMatch(/^sleep 61.7$/m);
  });

  it("a checkout that hangs is stopped by the job's timeout", async () => {
    const server: Server = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanup.push(() => server.closeAllConnections());
    cleanup.push(() => server.close());
    const port = (server.address() as { port: number }).port;
    const { executor, finished } = await setup({ apiUrl: `http://127.0.0.1:${port}/api/v3` });
    await executor.start(spec("hang-1", "true", { checkout: true, timeoutMs: 300 }));
    expect((await finished("hang-1")).outcome).toBe("timed_out");
  });

  it("cancels a running job and a queued one", async () => {
    const { executor, finished, logged, seen } = await setup({ concurrency: 1 });
    await executor.start(spec("run-a", "echo a started; sleep 30"));
    await executor.start(spec("run-b", "echo b"));
    await logged("run-a", "a started\n"); // run-a holds the only slot
    expect(executor.queueDepth).toBe(1); // run-b waits for it
    expect(seen.some((o) => o.runId === "run-b" && o.phase === "running")).toBe(false);
    await executor.cancel("run-b");
    await executor.cancel("run-a");
    await executor.cancel("run-a"); // twice is fine
    expect((await finished("run-a")).outcome).toBe("cancelled");
    expect((await finished("run-b")).outcome).toBe("cancelled");
    await executor.cancel("never-existed");
  });

  it("runs at most `concurrency` jobs at once; the rest stay pending", async () => {
    const { executor, finished, seen } = await setup({ concurrency: 2 });
    for (const id of ["c1", "c2", "c3", "c4"]) await executor.start(spec(id, "sleep 0.3"));
    expect(executor.queueDepth).toBe(2);
    await Promise.all(["c1", "c2", "c3", "c4"].map((id) => finished(id)));
    // c3 starts only after c1 or c2 finished
    const idx = (id: string, phase: string) => seen.findIndex((o) => o.runId === id && o.phase === phase);
    expect(idx("c3", "running")).toBeGreaterThan(Math.min(idx("c1", "finished"), idx("c2", "finished")));
  });

  it("gives the job a minimal environment: never the app's secrets", async () => {
    const { executor, finished, logs } = await setup();
    process.env.PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----secret";
    process.env.WEBHOOK_SECRET = "hush";
    cleanup.push(() => {
      delete process.env.PRIVATE_KEY;
      delete process.env.WEBHOOK_SECRET;
    });
    await executor.start(spec("env-1", "env | sort", { env: { FOO: "bar" } }));
    await finished("env-1");
    const env = readFileSync(logs.path("env-1"), "utf8");
    expect(env).toContain("FOO=bar\n");
    expect(env).toContain("CI=true\n");
    expect(env).toContain("YACI_REPOSITORY=octo/hello\n");
    expect(env).toContain(`YACI_SHA=${fakeSpec().key.sha}\n`);
    expect(env).toContain("YACI_REF=refs/heads/main\n");
    expect(env).toContain("YACI_JOB=test\n");
    expect(env).not.toMatch(/PRIVATE_KEY|WEBHOOK_SECRET|hush|ghs_/);
  });

  it("checks out the repository at the SHA with a scoped token, which the job never sees", async () => {
    const src = mkdtempSync(join(tmpdir(), "yaci-src-"));
    const { mkdirSync, writeFileSync } = await import("node:fs");
    mkdirSync(join(src, "octo-hello-abc1234"));
    writeFileSync(join(src, "octo-hello-abc1234", "README.md"), "hello from the repo\n");
    const archive = join(src, "repo.tgz");
    await tar.c({ gzip: true, file: archive, cwd: src }, ["octo-hello-abc1234"]);
    const requests: { url: string; auth?: string }[] = [];
    const server: Server = createServer((req, res) => {
      requests.push({ url: req.url!, auth: req.headers.authorization });
      res.writeHead(200, { "content-type": "application/x-gzip" }).end(readFileSync(archive));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanup.push(() => server.close());
    const port = (server.address() as { port: number }).port;
    const { executor, finished, logs } = await setup({ apiUrl: `http://127.0.0.1:${port}/api/v3` });
    await executor.start(spec("co-1", "cat README.md; env", { checkout: true }));
    expect((await finished("co-1")).outcome).toBe("succeeded");
    const log = readFileSync(logs.path("co-1"), "utf8");
    expect(log).toContain("hello from the repo");
    expect(log).not.toContain("ghs_scopedtoken123");
    expect(requests).toEqual([{ url: `/api/v3/repos/octo/hello/tarball/${fakeSpec().key.sha}`, auth: "token ghs_scopedtoken123" }]);
  });

  it("falls back to `git fetch` of the commit when the server has no tarball, token in a header only", async () => {
    const root = mkdtempSync(join(tmpdir(), "yaci-git-root-"));
    const sha = makeRepo(root, "octo", "hello", { "src/app.txt": "from git\n" });
    const gitServer = await startGitHttpServer(root, "ghs_scopedtoken123");
    cleanup.push(() => void gitServer.close());
    // The same host answers the REST API (no tarball here: 404) and git, as GHE does.
    const server: Server = createServer((req, res) => {
      if (req.url!.startsWith("/api/v3/")) return void res.writeHead(404, { "content-type": "application/json" }).end('{"message":"Not Found"}');
      const proxied = new URL(req.url!, gitServer.url);
      req.pipe(
        httpRequest(proxied, { method: req.method, headers: req.headers }, (up) => {
          res.writeHead(up.statusCode!, up.headers);
          up.pipe(res);
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanup.push(() => server.close());
    const port = (server.address() as { port: number }).port;
    const { executor, finished, logs } = await setup({ apiUrl: `http://127.0.0.1:${port}/api/v3` });
    await executor.start(spec("git-1", "cat src/app.txt; ls -a", { checkout: true, key: { ...fakeSpec().key, sha } }));
    const f = await finished("git-1");
    const log = readFileSync(logs.path("git-1"), "utf8");
    expect(f.outcome, log).toBe("succeeded");
    expect(log).toContain("from git");
    expect(log).not.toContain(".git\n"); // a plain tree, like the tarball's
    expect(gitServer.auths.filter((a) => a.startsWith("Basic ")).length).toBeGreaterThan(0);
  });

  it("a failed checkout ends the run as a failure that says why, without the token", async () => {
    const { executor, finished, logs } = await setup({ apiUrl: "http://127.0.0.1:9/api/v3" });
    await executor.start(spec("co-2", "true", { checkout: true }));
    const f = await finished("co-2");
    expect(f.outcome).toBe("error");
    expect(f.message).toMatch(/^checkout failed: /);
    expect(readFileSync(logs.path("co-2"), "utf8")).not.toContain("ghs_");
  });

  it("after a crash, recover() kills the orphaned processes and reports them interrupted", async () => {
    const first = await setup();
    await first.executor.start(spec("orphan-1", "echo started; sleep 60"));
    await first.logged("orphan-1", "started\n"); // its process runs (and has written its marker)
    // A new executor on the same data dir = the app restarted (the old process group still runs).
    const second = new LocalExecutor({
      dataDir: first.dataDir,
      logs: first.logs,
      concurrency: 1,
      githubApiUrl: "http://127.0.0.1:1",
      checkoutToken: async () => "",
      containment: first.containment,
    });
    const found = await second.recover();
    expect(found.map((j) => [j.spec.id, j.observation.phase, j.observation.phase === "finished" && j.observation.outcome])).toEqual([
      ["orphan-1", "finished", "interrupted"],
    ]);
    // The old process group was killed: the first executor sees its child die.
    const f = await first.finished("orphan-1");
    expect(f.exitCode).toBe(137);
    expect(await second.recover()).toEqual([]); // exactly once
    expect(existsSync(join(first.dataDir, "local", "running", "orphan-1.json"))).toBe(false);
  });
});
