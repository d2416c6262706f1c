import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Trigger } from "../../src/core/trigger.js";
import { LogStore } from "../../src/logs/log-store.js";
import { Reporter } from "../../src/runs/reporter.js";
import { RunStore } from "../../src/runs/run-store.js";
import { Scheduler } from "../../src/runs/scheduler.js";
import { MemoryChecks } from "../fakes/memory-checks.js";
import { captureLog, harness, makeSpec, ManualClock, until, type Harness } from "../kubernetes/harness.js";

/**
 * The Kubernetes API goes away for 30 s in the middle of runs: first it refuses connections (the
 * watches are cut), then it answers 503; meanwhile jobs end unseen and new ones are accepted; when
 * it is back, the resumed watch meets `410 Gone` (its resourceVersion was compacted away). The
 * executor's time (its retry backoff, grace periods, deadlines) is a `ManualClock` the test moves:
 * the 30 s are 30 s for the executor and a few real seconds for the test.
 */

const silent = { info() {}, warn() {}, error() {} };
let h: Harness;
const dirs: string[] = [];

beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const trigger = (sha: string): Trigger => ({ event: "push", installationId: 4242, owner: "octo-org", repo: "hello-world", sha, ref: "refs/heads/main", branch: "main" });
const BUILD = { name: "build", image: "alpine:3.20", run: "make", timeoutMs: 30 * 60_000, env: {} };
/** Real-time budgets of the waits below (each awaited step waits at most this long). */
const STEP = { pods: 15_000, reported: 20_000, outageStep: 5_000, /** the two 15-s halves of the outage: 120 steps of at least 5 ms */ outage: 10_000 };

describe("the Kubernetes API down for 30 s in the middle of runs", () => {
  it("every run ends with the result its job had, each reported once: jobs that ended unseen, jobs accepted during the outage", { timeout: STEP.pods + 3 * STEP.reported + STEP.outage + STEP.outageStep }, async () => {
    const clock = new ManualClock(Date.now());
    const dir = mkdtempSync(join(tmpdir(), "yaci-k8s-down-"));
    dirs.push(dir);
    const store = new RunStore(dir);
    const logs = new LogStore(dir);
    const log = captureLog();
    const { executor } = await h.newExecutor({ relistIntervalMs: 0, pendingTimeoutMs: 30 * 60_000, imagePullGraceMs: 30 * 60_000 }, { logStore: logs, subscribe: false, clock, log });
    const checks = new MemoryChecks();
    const reporter = new Reporter({ store, logs, checks, executorKind: "kubernetes", log: silent, retryDelaysMs: [10], onFinalReported: (r) => executor.markReported(r.spec.id) });
    const scheduler = new Scheduler({ store, executor, reporter, log: silent });

    /** Moves the executor's time by `ms` in steps, letting each retry's request happen between them. */
    const advance = async (ms: number, stepMs = 250) => {
      for (let t = 0; t < ms; t += stepMs) {
        clock.advanceTo(clock.now().getTime() + stepMs);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    /** Moves the executor's time until `cond` holds (bounded in real time). */
    const driveUntil = async (cond: () => boolean, ms: number, what: string) => {
      const deadline = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; log:\n${log.lines.slice(-30).join("\n")}`);
        await advance(250);
      }
    };

    // 12 commits, one job each. A: end before the outage. B: running when it starts, end during it.
    // C: pushed during the outage. Exit codes (0 or not) are mixed in every group.
    const shas = Array.from({ length: 12 }, (_, i) => `${i}`.padStart(2, "0") + "d0d0d0".repeat(6) + "ab");
    const ids = shas.map((sha) => makeSpec({ sha, job: "build" }).id);
    const exitCode = (i: number) => (i % 3 === 1 ? 2 : 0);
    const A = [0, 1, 2, 3];
    const B = [4, 5, 6, 7];
    const C = [8, 9, 10, 11];
    const reported = (i: number) => store.get(ids[i]!)?.reported?.phase === "completed";
    const end = (i: number) => (exitCode(i) === 0 ? h.standIn.kubelet.succeed(ids[i]!, `ok ${i}\n`) : h.standIn.kubelet.fail(ids[i]!, exitCode(i), `boom ${i}\n`));

    for (const i of [...A, ...B]) scheduler.accept(trigger(shas[i]!), [BUILD]);
    await until(() => [...A, ...B].every((i) => h.standIn.kubelet.pod(ids[i]!)), STEP.pods, "a pod per Job of A and B");
    for (const i of [...A, ...B]) h.standIn.kubelet.run(ids[i]!, { log: `running ${i}\n` });
    for (const i of A) end(i);
    await driveUntil(() => A.every(reported) && B.every((i) => store.get(ids[i]!)?.phase === "in_progress"), STEP.reported, "A reported, B in progress");

    // The API goes away: connections refused (the watches are cut) for 15 s…
    h.standIn.refuseConnections();
    for (const i of B) end(i); // the jobs end, and nobody sees it
    for (const i of C) scheduler.accept(trigger(shas[i]!), [BUILD]); // creation waits for the API
    await advance(15_000);
    // …then it answers, but only 503, for 15 s more.
    h.standIn.failRequests(503);
    h.standIn.acceptConnections();
    await advance(15_000);
    // (On a slow machine, fewer retries fit in those steps: the outage then lasts until each has met the 503.)
    const met503 = () =>
      ["jobs", "pods"].every((w) => log.lines.some((l) => l.includes(`${w} watch failed (HTTP 503`))) &&
      C.every((i) => log.lines.some((l) => l.includes(`could not create Job ${ids[i]} (HTTP 503`)));
    await driveUntil(met503, STEP.outageStep, "every retry to meet the 503");
    // Nothing was reported meanwhile: B is still in progress, C not created.
    for (const i of B) expect(store.get(ids[i]!)?.phase).toBe("in_progress");
    for (const i of C) expect(h.standIn.get("jobs", ids[i]!)).toBeUndefined();
    // It comes back with its event history compacted: the resumed watch's resourceVersion is gone (410).
    h.standIn.compact();
    h.standIn.clearFaults();

    await driveUntil(() => B.every(reported) && C.every((i) => h.standIn.kubelet.pod(ids[i]!)), STEP.reported, "B reported, C's pods created");
    // What the executor went through: both watches cut, then 503, then 410 and a re-list each; the
    // new Jobs' creation tried again through both kinds of outage.
    for (const w of ["jobs", "pods"]) {
      expect(log.lines.some((l) => l.startsWith(`error kubernetes: ${w} watch failed (terminated`) || l.includes(`${w} watch failed (fetch failed`)), w).toBe(true);
      expect(log.lines.some((l) => l.includes(`${w} watch failed (HTTP 503`)), w).toBe(true);
      expect(log.lines.filter((l) => new RegExp(`${w} watch: resourceVersion \\d+ is too old \\(410 Gone\\); re-listing`).test(l)), w).toHaveLength(1);
    }
    for (const i of C) {
      expect(log.lines.some((l) => l.includes(`could not create Job ${ids[i]} (fetch failed)`)), ids[i]).toBe(true);
      expect(log.lines.some((l) => l.includes(`could not create Job ${ids[i]} (HTTP 503`)), ids[i]).toBe(true);
    }
    for (const i of C) h.standIn.kubelet.run(ids[i]!, { log: `running ${i}\n` });
    for (const i of C) end(i);
    await driveUntil(() => C.every(reported), STEP.reported, "C reported");
    await reporter.idle();

    // Every run: completed as its job ended, reported once, its Job created once.
    for (let i = 0; i < 12; i++) {
      const r = store.get(ids[i]!)!;
      expect(r, ids[i]).toMatchObject({ phase: "completed", outcome: exitCode(i) === 0 ? "succeeded" : "failed", reported: { phase: "completed" } });
      expect(r.exitCode, ids[i]).toBe(exitCode(i));
    }
    const created = checks.writes.filter((w) => w.op === "create");
    expect(created.map((w) => w.u.headSha).sort()).toEqual([...shas].sort());
    for (const c of created) {
      const i = shas.indexOf(c.u.headSha);
      const finals = checks.writes.filter((w) => w.id === c.id && w.u.status === "completed");
      expect(finals.map((w) => w.u.conclusion), ids[i]).toEqual([exitCode(i) === 0 ? "success" : "failure"]);
      expect(checks.writes.filter((w) => w.id === c.id).at(-1)!.u.status).toBe("completed");
    }
    expect(h.standIn.count("create", "jobs")).toBe(12);
    for (const id of ids) expect(log.lines.filter((l) => l.startsWith(`info kubernetes: ${id} finished: `)), id).toHaveLength(1);
    scheduler.close();
  });
});
