import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LocalExecutor } from "../../src/executors/local/local-executor.js";
import { localContainment, type Containment } from "../../src/executors/local/sandbox.js";
import type { JobObservation } from "../../src/executors/executor.js";
import { LogStore } from "../../src/logs/log-store.js";
import { Reporter } from "../../src/runs/reporter.js";
import { RunStore } from "../../src/runs/run-store.js";
import { silentLogger } from "../../src/logger.js";
import type { RunSpec } from "../../src/core/run.js";
import { fakeRecord, fakeSpec } from "../fakes/records.js";
import { MemoryChecks } from "../fakes/memory-checks.js";
import { startApp, type AppProcess } from "../support/app-process.js";
import { startGitHubStandIn, waitFor, type GitHubStandIn } from "../support/github-stand-in.js";
import { loadExample, sendWebhook, withInstallation } from "../support/webhooks.js";
import { TEST_PRIVATE_KEY, TEST_WEBHOOK_SECRET } from "../support/test-app-keys.js";

type Finished = Extract<JobObservation, { phase: "finished" }>;
type Mode = "required" | "off";

const tag = () => randomBytes(6).toString("hex");
let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanup.reverse()) fn();
  cleanup = [];
});

async function setup(mode: Mode, env: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "yaci-sandbox-"));
  cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const logs = new LogStore(dataDir);
  const containment: Containment = await localContainment({ YACI_LOCAL_SANDBOX: mode, ...env }, dataDir);
  const executor = new LocalExecutor({
    dataDir,
    logs,
    concurrency: 2,
    githubApiUrl: "http://127.0.0.1:1",
    killGraceMs: 200,
    checkoutToken: async () => "ghs_unused",
    containment,
  });
  const seen: JobObservation[] = [];
  const waiting = new Map<string, (f: Finished) => void>();
  executor.subscribe((o) => {
    seen.push(o);
    if (o.phase === "finished") waiting.get(o.runId)?.(o);
  });
  const finished = (id: string) =>
    new Promise<Finished>((resolve) => {
      const done = seen.find((o): o is Finished => o.runId === id && o.phase === "finished");
      if (done) resolve(done);
      else waiting.set(id, resolve);
    });
  const run = async (spec: RunSpec) => {
    await executor.start(spec);
    const f = await finished(spec.id);
    return { f, log: readFileSync(logs.path(spec.id), "utf8") };
  };
  cleanup.push(() => void executor.close());
  return { dataDir, logs, executor, containment, finished, run };
}

const spec = (id: string, run: string, over: Partial<RunSpec> = {}) => fakeSpec({ id, run, checkout: false, ...over });

/** Live processes (never zombies: those have no command line) with one of `markers` as an argument. */
function sleepers(markers: string[]): { pid: number; seconds: string }[] {
  const found: { pid: number; seconds: string }[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    const marker = markers.find((m) => argv.includes(m));
    if (marker) found.push({ pid: Number(name), seconds: marker });
  }
  return found;
}

const logOf = (logs: LogStore, id: string) => (existsSync(logs.path(id)) ? readFileSync(logs.path(id), "utf8") : "");

/** One entry of this process's real environment (what /proc/<pid>/environ shows) that no job is given. */
function ownEnvironEntry(): string | undefined {
  const jobs = new Set(["PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "HOME", "PWD", "OLDPWD", "SHLVL", "_"]);
  return readFileSync("/proc/self/environ", "utf8")
    .split("\0")
    .find((e) => /^[A-Za-z_][A-Za-z0-9_]*=.{8,}$/.test(e) && !jobs.has(e.split("=")[0]!));
}

/**
 * What a hostile job goes after: the app's environment, a file in the app's directory, the
 * private key file, a file in the app user's home, another run's log; places outside its
 * workspace to write; processes that try to outlive it (with and without YACI_RUN_ID).
 */
function hostileFixtures() {
  const t = tag();
  const secrets = {
    appEnv: `yaci-fake-app-secret-${tag()}`,
    appFile: `app-file-secret-${tag()}`,
    key: `-----BEGIN RSA PRIVATE KEY----- key-secret-${tag()}`,
    home: `home-secret-${tag()}`,
    victim: `victim-log-secret-${tag()}`,
  };
  // Set at run time, this reaches the job only if the executor passed the app's environment on;
  // /proc/<pid>/environ shows a process's environment as it was started, hence `environ` below.
  process.env.YACI_FAKE_APP_SECRET = secrets.appEnv;
  const appFile = join(process.cwd(), `.yaci-sandbox-test-${t}`);
  writeFileSync(appFile, secrets.appFile);
  const homeFile = join(homedir(), `.yaci-sandbox-test-${t}`);
  writeFileSync(homeFile, secrets.home);
  const keyDir = mkdtempSync("/var/tmp/yaci-key-");
  writeFileSync(join(keyDir, "key.pem"), secrets.key, { mode: 0o600 });
  const outsideDir = mkdtempSync("/var/tmp/yaci-outside-");
  const write = `.yaci-sandbox-write-${t}`;
  const base = 3000 + Math.floor(Math.random() * 5000);
  const sleeps = ["11", "12", "13", "14"].map((s) => `${base}.${s}`);
  const writes = [join(process.cwd(), write), join(outsideDir, write), join(homedir(), write), join("/tmp", write)];
  const undo = () => {
    delete process.env.YACI_FAKE_APP_SECRET;
    for (const f of [appFile, homeFile, keyDir, outsideDir, ...writes]) rmSync(f, { recursive: true, force: true });
    for (const p of sleepers(sleeps)) process.kill(p.pid, "SIGKILL"); // what an unsandboxed job left
  };
  const environ = ownEnvironEntry();
  const env = (dataDir: string, victimLog: string) => ({
    APP_PID: String(process.pid),
    APP_DIR: process.cwd(),
    APP_FILE: appFile,
    APP_HOME: homedir(),
    HOME_FILE: homeFile,
    KEY_FILE: join(keyDir, "key.pem"),
    VICTIM_LOG: victimLog,
    DATA_DIR: dataDir,
    OUTSIDE_DIR: outsideDir,
    W: write,
    S1: sleeps[0]!,
    S2: sleeps[1]!,
    S3: sleeps[2]!,
    S4: sleeps[3]!,
  });
  return { secrets, environ, keyFile: join(keyDir, "key.pem"), write, writes, sleeps, env, undo };
}

const HOSTILE = `set +e
echo "== environ"
cat /proc/$APP_PID/environ
tr '\\0' '\\n' < /proc/$PPID/environ
echo "== files"
cat "$APP_FILE" "$APP_DIR/.env" "$KEY_FILE" "$HOME_FILE"
echo "== logs"
cat "$VICTIM_LOG"
cat ../../../logs/*.log
echo "== writes"
for f in "$APP_DIR/$W" "$OUTSIDE_DIR/$W" "$DATA_DIR/$W" "$APP_HOME/$W" "/tmp/$W"; do echo pwned > "$f"; done
echo mine > mine.txt && echo "workspace: $(cat mine.txt)"
echo mine > "/tmp/$W" && echo "tmp: $(cat "/tmp/$W")"
echo "== processes"
# Each says it runs (a file in the workspace) before the job ends; its marker is on its command line.
run='touch "$1"; exec sleep "$2"'
(sh -c "$run" sh up1 $S1 &)
(env -u YACI_RUN_ID setsid sh -c "$run" sh up2 $S2 >/dev/null 2>&1 &)
setsid nohup sh -c "$run" sh up3 $S3 >/dev/null 2>&1 &
sh -c "$run" sh up4 $S4 &
until [ -e up1 ] && [ -e up2 ] && [ -e up3 ] && [ -e up4 ]; do sleep 0.01; done
echo "hostile done"
`;

async function hostileRun(mode: Mode) {
  const fx = hostileFixtures();
  cleanup.push(fx.undo);
  const s = await setup(mode, { PRIVATE_KEY_PATH: fx.keyFile });
  const victim = await s.run(spec("victim-1", `echo ${fx.secrets.victim}`));
  expect(victim.f.outcome).toBe("succeeded");
  const hostile = await s.run(spec("hostile-1", HOSTILE, { env: fx.env(s.dataDir, s.logs.path("victim-1")) }));
  // Checked as soon as the run is reported finished: the sandbox's processes are gone by then.
  const left = sleepers(fx.sleeps);
  return { ...s, fx, ...hostile, left, writes: [...fx.writes, join(s.dataDir, fx.write)] };
}

/** The check run a Reporter writes for a finished run of `executor`. */
async function summaryOf(executor: LocalExecutor, dataDir: string, logs: LogStore, f: Finished, id: string): Promise<string> {
  const store = new RunStore(dataDir);
  store.put(fakeRecord({ phase: "completed", conclusion: "success", exitCode: f.exitCode, startedAt: f.startedAt?.toISOString(), finishedAt: f.finishedAt.toISOString() }, { id }));
  const checks = new MemoryChecks();
  const reporter = new Reporter({ store, logs, checks, executorKind: executor.kind, isolationWarning: executor.isolationWarning, log: silentLogger });
  await reporter.report(id);
  return checks.writes.at(-1)!.u.summary;
}

describe("the local executor's sandbox (bubblewrap)", () => {
  it("keeps a hostile job from the app's environment, files, key, home and other runs' logs, from writing outside its workspace, and from outliving its run", async () => {
    const r = await hostileRun("required");
    expect(r.containment.sandboxed).toBe(true);
    expect(r.f).toMatchObject({ outcome: "succeeded", exitCode: 0 });
    expect(r.log).toContain("hostile done");
    expect(r.log).toContain("workspace: mine\n"); // its workspace is its own
    expect(r.log).toContain("tmp: mine\n"); // and so is a private /tmp
    expect(r.fx.environ, "an entry of this process's environment to look for").toBeDefined();
    for (const secret of [r.fx.environ!, ...Object.values(r.fx.secrets)]) expect(r.log).not.toContain(secret);
    for (const file of r.writes) expect(existsSync(file), file).toBe(false);
    expect(r.left).toEqual([]);
    expect(r.executor.isolationWarning).toBeUndefined();
    expect(await summaryOf(r.executor, r.dataDir, r.logs, r.f, "hostile-1")).not.toContain("not sandboxed");
  });

  it("with YACI_LOCAL_SANDBOX=off the same job gets all of it (what the sandbox prevents), and every check run says 'not sandboxed'", async () => {
    const r = await hostileRun("off");
    expect(r.containment.sandboxed).toBe(false);
    expect(r.log).toContain("hostile done");
    for (const secret of [r.fx.environ!, r.fx.secrets.appFile, r.fx.secrets.key, r.fx.secrets.home, r.fx.secrets.victim]) {
      expect(r.log).toContain(secret);
    }
    expect(r.log).not.toContain(r.fx.secrets.appEnv); // the job's environment is still minimal
    expect(r.writes.filter((f) => existsSync(f)).length).toBeGreaterThan(0);
    expect(r.left.map((p) => p.seconds)).toContain(r.fx.sleeps[1]); // env -u YACI_RUN_ID setsid: escaped
    expect(r.executor.isolationWarning).toMatch(/^not sandboxed \(YACI_LOCAL_SANDBOX=off\)/);
    expect(await summaryOf(r.executor, r.dataDir, r.logs, r.f, "hostile-1")).toMatch(/\*\*Warning:\*\* not sandboxed \(YACI_LOCAL_SANDBOX=off\)/);
  });

  it("a cancelled sandboxed job gets SIGTERM first (its trap runs), then nothing of it is left", async () => {
    const { executor, finished, logs } = await setup("required");
    const marker = `${4000 + Math.floor(Math.random() * 5000)}.21`;
    await executor.start(spec("trap-1", `trap 'echo cleaned up; exit 5' TERM\nsleep ${marker} &\necho started\nwait`));
    await waitFor(() => logOf(logs, "trap-1").includes("started"), { timeoutMs: 10_000, message: "the job to start" });
    await executor.cancel("trap-1");
    const f = await finished("trap-1");
    expect(f.outcome).toBe("cancelled");
    expect(readFileSync(logs.path("trap-1"), "utf8")).toBe("started\ncleaned up\n");
    expect(sleepers([marker])).toEqual([]);
  });

  it("the network is the host's, unless YACI_LOCAL_NETWORK=none: then only the sandbox's own loopback", async () => {
    const server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanup.push(() => server.close());
    const port = (server.address() as AddressInfo).port;
    const connect = `node -e "require('net').connect(${port}, '127.0.0.1').on('connect', () => { console.log('connected'); process.exit(0) }).on('error', (e) => console.log(e.code))"`;
    const interfaces = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '";
    const shared = await (await setup("required")).run(spec("net-1", connect));
    expect(shared.log).toBe("connected\n");
    const none = await setup("required", { YACI_LOCAL_NETWORK: "none" });
    const cut = await none.run(spec("net-2", `${connect}\n${interfaces}`));
    expect(cut.log).toBe("ECONNREFUSED\nlo\n");
  });

  it("refuses unknown modes, and YACI_LOCAL_NETWORK=none without the sandbox", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "yaci-sandbox-"));
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    await expect(localContainment({ YACI_LOCAL_SANDBOX: "yes" }, dataDir)).rejects.toThrow(/YACI_LOCAL_SANDBOX must be one of auto, required, off; got "yes"/);
    await expect(localContainment({ YACI_LOCAL_NETWORK: "off" }, dataDir)).rejects.toThrow(/YACI_LOCAL_NETWORK must be one of host, none/);
    await expect(localContainment({ YACI_LOCAL_SANDBOX: "off", YACI_LOCAL_NETWORK: "none" }, dataDir)).rejects.toThrow(/needs the sandbox/);
    expect(await localContainment({}, dataDir)).toMatchObject({ sandboxed: true }); // auto, where bwrap works
  });

  it("`required` refuses to start where bwrap cannot run, saying how to fix it; `auto` runs unsandboxed and says why", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "yaci-sandbox-"));
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent"; // no bwrap to be found
    try {
      await expect(localContainment({ YACI_LOCAL_SANDBOX: "required" }, dataDir)).rejects.toThrow(
        /YACI_LOCAL_SANDBOX=required, but bubblewrap cannot start a sandbox here: bwrap is not installed\. Install bubblewrap .*seccomp/,
      );
      expect(await localContainment({}, dataDir)).toEqual({
        sandboxed: false,
        warning: expect.stringMatching(/^not sandboxed \(bubblewrap cannot start a sandbox: bwrap is not installed\): the job runs as the app's own user/),
      });
    } finally {
      process.env.PATH = path;
    }
  });
});

describe.each(["required", "off"] as const)("a job the system cannot start ends as an error, and the executor carries on (YACI_LOCAL_SANDBOX=%s)", (mode) => {
  it("a NUL in `run` or in an environment value, an environment over 2 MiB or a variable over 128 KiB: errors; a 10 MB `run` simply runs", async () => {
    const { run } = await setup(mode);
    const argMax = Number(execFileSync("getconf", ["ARG_MAX"], { encoding: "utf8" }));
    const big = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`BIG_${i}`, "x".repeat(100 * 1024)]));
    const tenMb = "# padding that makes the script 10 MB long\n".repeat(Math.ceil((10 << 20) / 44)) + "echo big-ok\n";
    const [nulRun, nulEnv, hugeEnv, hugeVar, tenMbRun] = await Promise.all([
      run(spec("nul-run", "echo a\0b")),
      run(spec("nul-env", "echo hi", { env: { FOO: "a\0b" } })),
      run(spec("huge-env", "echo hi", { env: big(Math.ceil((Math.max(argMax, 2 << 20) + (512 << 10)) / (100 * 1024))) })),
      run(spec("huge-var", "echo hi", { env: { ONE: "y".repeat(200 * 1024) } })),
      run(spec("ten-mb", tenMb)),
    ]);
    expect(nulRun.f).toMatchObject({ outcome: "error", message: "the job's `run` contains a NUL character" });
    expect(nulRun.log).toBe("yaci: the job's `run` contains a NUL character\n");
    expect(nulEnv.f).toMatchObject({ outcome: "error", message: 'the job\'s environment variable "FOO" contains a NUL character' });
    for (const r of [hugeEnv, hugeVar]) {
      expect(r.f).toMatchObject({ outcome: "error", message: expect.stringMatching(/^could not start the job: its environment is too large \(E2BIG/) });
      expect(r.log).toMatch(/^yaci: could not start the job: its environment is too large/);
    }
    expect(tenMbRun.f).toMatchObject({ outcome: "succeeded", exitCode: 0 });
    expect(tenMbRun.log).toBe("big-ok\n");
    // The executor is still there for the next job.
    const after = await run(spec("after-1", "echo still here"));
    expect(after.f).toMatchObject({ outcome: "succeeded" });
    expect(after.log).toBe("still here\n");
  });
});

describe("the built app", () => {
  const API_TOKEN = "sandbox-test-token-0123456789abcdef0123";
  let github: GitHubStandIn;
  let app: AppProcess | undefined;
  beforeAll(async () => {
    github = await startGitHubStandIn();
  });
  afterAll(async () => {
    await github.close();
  });
  afterEach(async () => {
    await app?.stop();
    app?.removeDataDir();
    app = undefined;
  });

  const authorization = { authorization: `Bearer ${API_TOKEN}` };
  const getRun = (a: AppProcess, id: string) =>
    waitFor(
      async () => {
        const res = await fetch(`${a.url}/get?id=${id}`, { headers: authorization });
        const [entry] = (await res.json()) as { status: string; log: string }[];
        return entry && entry.status !== "Pending" && entry.status !== "Running" ? entry : undefined;
      },
      { timeoutMs: 20_000, message: `run ${id} to end` },
    );
  const alive = async (a: AppProcess) => {
    let exited = false;
    void a.exited.then(() => (exited = true));
    const res = await fetch(`${a.url}/healthz`);
    return res.status === 200 && !exited;
  };

  it("keeps YACI_DATA_DIR private; stays up when `POST /run` sends a NUL, and again when that kind of run was queued across a restart", async () => {
    const firstDir = mkdtempSync(join(tmpdir(), "yaci-e2e-"));
    chmodSync(firstDir, 0o755);
    app = await startApp({ github, dataDir: firstDir, env: { YACI_API_TOKEN: API_TOKEN, YACI_LOCAL_SANDBOX: "required" } });
    expect(statSync(firstDir).mode & 0o777).toBe(0o700);
    const res = await fetch(`${app.url}/run`, {
      method: "POST",
      headers: { ...authorization, "content-type": "application/json" },
      body: JSON.stringify({ command: "echo \u0000" }),
    });
    // The API refuses a NUL up front (400 with a message); the app stays up.
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/NUL/);
    expect(await alive(app)).toBe(true);

    // A restart finds a bad run still queued and starts it: an error, not a crash loop.
    await app.stop();
    const dataDir = app.dataDir;
    new RunStore(dataDir).put(fakeRecord({ phase: "queued" }, { id: "queued-bad-1", event: "api", checkout: false, run: "echo \u0000" }));
    app = await startApp({ github, dataDir, env: { YACI_API_TOKEN: API_TOKEN, YACI_LOCAL_SANDBOX: "required" } });
    expect(await getRun(app, "queued-bad-1")).toMatchObject({ status: "Failed", log: "yaci: the job's `run` contains a NUL character\n" });
    expect(await alive(app)).toBe(true);
  });

  it("a pushed job cannot read the app's PRIVATE_KEY or WEBHOOK_SECRET; with YACI_LOCAL_SANDBOX=off it can, and its check run says 'not sandboxed'", async () => {
    const hostile = async (mode: Mode, n: number) => {
      app = await startApp({ github, env: { YACI_LOCAL_SANDBOX: mode } });
      const sha = `${n}`.padStart(8, "0") + "5a4db0c5".repeat(4);
      const payload = withInstallation(loadExample("push", (p) => p.ref.startsWith("refs/heads/") && !p.deleted), 4343);
      payload.after = sha;
      payload.ref = `refs/heads/sandbox-${n}`;
      const owner = (payload.repository.owner as { login: string }).login;
      const repo = payload.repository.name;
      const run = [`tr '\\0' '\\n' < /proc/${app.pid}/environ || true`, "tr '\\0' '\\n' < /proc/$PPID/environ || true", "echo done"];
      github.setFiles(owner, repo, sha, { ".yaci.yml": `run: |\n${run.map((l) => `  ${l}\n`).join("")}` });
      expect(await sendWebhook(app.webhookUrl, { event: "push", payload, secret: app.webhookSecret })).toBe(202);
      const [checkRun] = await waitFor(
        () => {
          const runs = github.checkRunsFor(owner, repo, sha);
          return runs.length > 0 && runs.every((r) => r.status === "completed") ? runs : undefined;
        },
        { timeoutMs: 20_000, message: "the check run to complete" },
      );
      const warned = app.jsonLogs().some((l) => l.level === 40 && String(l.msg).startsWith("local jobs are not sandboxed"));
      await app.stop();
      app.removeDataDir();
      app = undefined;
      return { ...checkRun!.output, warned };
    };
    const keyLine = TEST_PRIVATE_KEY.split("\n").find((l) => l.length > 40)!;
    const sandboxed = await hostile("required", 1);
    expect(sandboxed.text).toContain("done");
    expect(sandboxed.text).not.toContain(TEST_WEBHOOK_SECRET);
    expect(sandboxed.text).not.toContain(keyLine);
    expect(sandboxed.summary).not.toContain("not sandboxed");
    expect(sandboxed.warned).toBe(false);
    const unsandboxed = await hostile("off", 2);
    expect(unsandboxed.text).toContain(`WEBHOOK_SECRET=${TEST_WEBHOOK_SECRET}`);
    expect(unsandboxed.summary).toMatch(/\*\*Warning:\*\* not sandboxed \(YACI_LOCAL_SANDBOX=off\)/);
    expect(unsandboxed.warned).toBe(true); // and the log said so at start
  });
});
