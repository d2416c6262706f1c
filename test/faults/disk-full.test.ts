import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkout } from "../../src/executors/local/checkout.js";
import { LocalExecutor } from "../../src/executors/local/local-executor.js";
import type { JobObservation } from "../../src/executors/executor.js";
import type { RunSpec } from "../../src/core/run.js";
import { LogStore } from "../../src/logs/log-store.js";
import { fakeSpec } from "../fakes/records.js";
import { makeRepo, startGitHttpServer } from "../support/git-http-server.js";
import type { Timers } from "../../src/clock.js";
import type { Trigger } from "../../src/core/trigger.js";
import { Reporter } from "../../src/runs/reporter.js";
import { RunStore } from "../../src/runs/run-store.js";
import { Scheduler } from "../../src/runs/scheduler.js";
import { FakeExecutor } from "../fakes/fake-executor.js";
import { MemoryChecks } from "../fakes/memory-checks.js";

let cleanup: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

/**
 * A small tmpfs: a real full disk (ENOSPC from the kernel). Mounting needs root (CI runs as root);
 * without it this throws with what to do rather than skipping.
 */
function smallDisk(sizeMiB: number): string {
  const dir = mkdtempSync(join(tmpdir(), "yaci-full-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}m,mode=0700`, "tmpfs", dir]);
  } catch (err) {
    throw new Error(`the disk-full tests mount a small tmpfs and need root (mount -t tmpfs): ${(err as Error).message}`);
  }
  cleanup.push(() => {
    execFileSync("umount", ["-l", dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

function executorIn(dataDir: string, over: { logMaxBytes?: number } = {}) {
  const logs = new LogStore(dataDir);
  const executor = new LocalExecutor({
    dataDir,
    logs,
    concurrency: 2,
    githubApiUrl: "http://127.0.0.1:1",
    killGraceMs: 200,
    containment: { sandboxed: false, warning: "not sandboxed (test)" } as never,
    checkoutToken: async () => "ghs_x",
    ...over,
  });
  const seen: JobObservation[] = [];
  const onFinish = new Map<string, () => void>();
  executor.subscribe((o) => {
    seen.push(o);
    if (o.phase === "finished") onFinish.get(o.runId)?.();
  });
  const finished = (id: string) =>
    new Promise<Extract<JobObservation, { phase: "finished" }>>((resolve) => {
      const hit = seen.find((o) => o.runId === id && o.phase === "finished");
      if (hit?.phase === "finished") return resolve(hit);
      onFinish.set(id, () => resolve(seen.find((o) => o.runId === id && o.phase === "finished") as Extract<JobObservation, { phase: "finished" }>));
    });
  cleanup.push(() => executor.close());
  return { logs, executor, finished, seen };
}

const spec = (id: string, run: string, over: Partial<RunSpec> = {}) => fakeSpec({ id, run, checkout: false, ...over });

describe("local jobs and a full or filling disk", () => {
  it("a log longer than YACI_LOG_MAX_BYTES keeps its end, and says how much was left out", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "yaci-cap-"));
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const { logs, executor, finished } = executorIn(dataDir, { logMaxBytes: 64 * 1024 });
    // 200,000 numbered lines (about 1.3 MB), then a last word.
    await executor.start(spec("cap-1", "seq 1 200000; echo the end"));
    expect(await finished("cap-1")).toMatchObject({ outcome: "succeeded", exitCode: 0 });
    const text = readFileSync(logs.path("cap-1"), "utf8");
    const total = execFileSync("sh", ["-c", "seq 1 200000; echo the end"], { maxBuffer: 16 << 20 }).length;
    const [note, ...rest] = text.split("\n");
    const kept = rest.join("\n");
    expect(note).toBe(`[yaci: the first ${total - 64 * 1024} bytes of this log were left out: it is longer than YACI_LOG_MAX_BYTES]`);
    expect(Buffer.byteLength(kept)).toBe(64 * 1024);
    expect(kept.endsWith("199999\n200000\nthe end\n")).toBe(true);
    expect(readdirSync(join(dataDir, "logs"))).toEqual(["cap-1.log"]); // no segment left behind
  });

  it("a job that fills the disk with output: the run ends as an error that says the disk is full; the next job runs once space returns", async () => {
    const dataDir = smallDisk(4);
    const { logs, executor, finished } = executorIn(dataDir);
    // 8 MiB of output into a 4 MiB disk (YACI_LOG_MAX_BYTES is 10 MiB: the cap does not save it).
    await executor.start(spec("full-1", "head -c 8388608 /dev/zero | tr '\\0' x; echo; echo done"));
    const f = await finished("full-1");
    expect(f.outcome).toBe("error");
    expect(f.exitCode).toBe(0); // the job itself was not harmed: its output went nowhere
    expect(f.message).toBe("the job's output could not be stored: ENOSPC: no space left on device, write (the disk under YACI_DATA_DIR is full)");
    // Space returns (the operator removes the log, or retention does).
    await logs.remove("full-1");
    await executor.start(spec("full-2", "echo fine"));
    expect(await finished("full-2")).toMatchObject({ outcome: "succeeded" });
    expect(readFileSync(logs.path("full-2"), "utf8")).toBe("fine\n");
  });

  it("the run's end is reported without waiting for its workspace to be deleted (no synchronous removal)", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "yaci-rm-"));
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const { executor } = executorIn(dataDir);
    const workspace = join(dataDir, "local", "workspaces", "rm-1");
    let presentAtFinish: boolean | undefined;
    executor.subscribe((o) => {
      if (o.runId === "rm-1" && o.phase === "finished") presentAtFinish = existsSync(join(workspace, "d", "f1"));
    });
    await executor.start(spec("rm-1", "mkdir d; i=0; while [ $i -lt 2000 ]; do : > d/f$i; i=$((i+1)); done"));
    await new Promise<void>((resolve) => {
      const t = setInterval(() => presentAtFinish !== undefined && (clearInterval(t), resolve()), 10);
    });
    expect(presentAtFinish).toBe(true); // before the fix: rmSync had removed it, blocking the event loop meanwhile
    await executor.removed();
    expect(existsSync(workspace)).toBe(false);
  });
});

describe("the `git fetch` fallback of the checkout", () => {
  it("stops at YACI_CHECKOUT_MAX_BYTES, says so, and leaves no partial files", async () => {
    const root = mkdtempSync(join(tmpdir(), "yaci-git-root-"));
    cleanup.push(() => rmSync(root, { recursive: true, force: true }));
    // 4 MiB that do not compress, in a repository without a tarball (the REST API answers 404).
    const sha = makeRepo(root, "octo", "big", { "blob.txt": randomBytes(3 * 1024 * 1024).toString("base64"), "README": "hi\n" });
    const server = await startGitHttpServer(root, "ghs_scoped");
    cleanup.push(() => server.close());
    const dir = mkdtempSync(join(tmpdir(), "yaci-co-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, ".home"));
    const noTarball = (async () => new Response('{"message":"Not Found"}', { status: 404 })) as typeof fetch;
    const req = { apiUrl: `${server.url}/api/v3`, owner: "octo", repo: "big", sha, token: "ghs_scoped", dir };
    await expect(checkout({ ...req, maxBytes: 1024 * 1024 }, noTarball)).rejects.toThrow(
      `could not download octo/big@${sha.slice(0, 7)} (tarball: HTTP 404; git: the repository at this commit is larger than YACI_CHECKOUT_MAX_BYTES (1048576 bytes))`,
    );
    expect(readdirSync(dir)).toEqual([".home"]);
    // Within the limit, the same checkout works.
    await checkout({ ...req, maxBytes: 64 * 1024 * 1024 }, noTarball);
    expect(statSync(join(dir, "blob.txt")).size).toBe(4 * 1024 * 1024);
  });
});

/** Timers the test fires by hand (the scheduler's retries of what it could not store). */
function handTimers(): Timers & { fire(): number; pending(): number } {
  const due = new Map<number, () => void>();
  let seq = 0;
  return {
    setTimeout: (fn) => (due.set(++seq, fn), seq),
    clearTimeout: (h) => void due.delete(h as number),
    fire() {
      const fns = [...due.values()];
      due.clear();
      for (const fn of fns) fn();
      return fns.length;
    },
    pending: () => due.size,
  };
}

describe("the scheduler and a full disk under its run records", () => {
  it("a run that ends while its record cannot be written: its end is kept, stored once space returns, and reported once", async () => {
    const dataDir = smallDisk(1);
    const lines: Array<{ level: string; msg: string }> = [];
    const at = (level: string) => (_f: Record<string, unknown>, msg: string) => void lines.push({ level, msg });
    const log = { info: at("info"), warn: at("warn"), error: at("error") };
    const store = new RunStore(dataDir, log);
    const checks = new MemoryChecks();
    const reporter = new Reporter({ store, logs: new LogStore(dataDir), checks, executorKind: "fake", log, retryDelaysMs: [10] });
    const executor = new FakeExecutor();
    const timers = handTimers();
    const scheduler = new Scheduler({ store, executor, reporter, log, timers, storeRetryDelaysMs: [1_000] });
    cleanup.push(() => scheduler.close());
    const trigger: Trigger = { event: "push", installationId: 42, owner: "octo", repo: "hello", sha: "d15cf011".repeat(5), ref: "refs/heads/main", branch: "main" };
    const [r] = scheduler.accept(trigger, [{ name: "test", image: "alpine", run: "make test", timeoutMs: 60_000, env: {} }]);
    const id = r!.spec.id;
    executor.run(id);
    await reporter.idle();
    expect(store.get(id)!.phase).toBe("in_progress");

    // The disk fills up (another process's output), then the job ends with exit code 2.
    execFileSync("sh", ["-c", `head -c 2097152 /dev/zero > ${join(dataDir, "filler")} 2>/dev/null || true`]);
    executor.finish(id, "failed", 2);
    const notStored = () => lines.filter((l) => l.level === "error" && l.msg === "could not store the run's new state (completed); will try again").length;
    expect(notStored()).toBe(1);
    expect(store.get(id)!.phase).toBe("in_progress"); // nothing half-written, nothing forgotten
    // Two retries while the disk is still full fail too; the executor repeating itself changes nothing.
    expect(timers.fire()).toBe(1);
    expect(timers.fire()).toBe(1);
    executor.finish(id, "failed", 2);
    expect(notStored()).toBe(4); // 1 + 2 timed retries + 1 before the repeat
    await reporter.idle();
    expect(checks.writes.filter((w) => w.u.status === "completed")).toEqual([]);

    // Space returns: the next retry stores the end, which is reported once, and no retry is left.
    rmSync(join(dataDir, "filler"));
    expect(timers.fire()).toBe(1);
    expect(timers.pending()).toBe(0);
    await reporter.idle();
    expect(store.get(id)).toMatchObject({ phase: "completed", outcome: "failed", conclusion: "failure", exitCode: 2, reported: { phase: "completed", conclusion: "failure" } });
    expect(new RunStore(dataDir).get(id)).toMatchObject({ phase: "completed", conclusion: "failure", exitCode: 2 }); // on disk, for a restart
    expect(checks.writes.filter((w) => w.op === "create")).toHaveLength(1);
    expect(checks.writes.filter((w) => w.u.status === "completed").map((w) => w.u.conclusion)).toEqual(["failure"]);
    expect(notStored()).toBe(4);
  });
});
