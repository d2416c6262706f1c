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
import { harness, makeSpec, until, type Harness } from "../kubernetes/harness.js";

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
const BUILD = { name: "build", image: "alpine:3.20", run: "make", timeoutMs: 60_000, env: {} };

/** One app replica: its own data dir (run store, logs), its own executor and scheduler; GitHub (`checks`) is shared. */
async function replica(checks: MemoryChecks) {
  const dir = mkdtempSync(join(tmpdir(), "yaci-replica-"));
  dirs.push(dir);
  const store = new RunStore(dir);
  const logs = new LogStore(dir);
  const { executor } = await h.newExecutor({}, { logStore: logs, subscribe: false });
  const reporter = new Reporter({ store, logs, checks, executorKind: "kubernetes", log: silent, retryDelaysMs: [10] });
  const scheduler = new Scheduler({ store, executor, reporter, log: silent });
  return { store, reporter, scheduler, executor };
}

describe("two replicas, one cluster", () => {
  it("the same push to both: one check run per job, completed; the losing replica reports nothing; no pod waits for its Secret", async () => {
    const checks = new MemoryChecks();
    const a = await replica(checks);
    const b = await replica(checks);
    const shas = Array.from({ length: 12 }, (_, i) => `${i}`.padStart(2, "0") + "c0ffee".repeat(6) + "ab");
    // Both replicas get the same delivery at the same moment (GitHub sends each app's webhook once; two
    // replicas behind one URL, a redelivery, or the catch-up of one of them make this happen).
    for (const sha of shas) {
      a.scheduler.accept(trigger(sha), [BUILD]);
      b.scheduler.accept(trigger(sha), [BUILD]);
    }
    const ids = shas.map((sha) => makeSpec({ sha, job: "build" }).id);
    await until(() => ids.every((id) => h.standIn.kubelet.pod(id)), 15_000, "a pod per Job");
    // Every pod found its token Secret: none waits with CreateContainerConfigError.
    for (const id of ids) {
      const pod = h.standIn.kubelet.pod(id)!;
      expect(JSON.stringify(pod.status), id).not.toContain("CreateContainerConfigError");
    }
    for (const id of ids) h.standIn.kubelet.run(id, { log: "building\n" });
    for (const id of ids) h.standIn.kubelet.succeed(id, "building\ndone\n");
    const owners = () => ids.map((id) => [a, b].filter((r) => r.store.get(id)));
    await until(
      () => ids.every((id) => [a, b].some((r) => r.store.get(id)?.reported?.phase === "completed")),
      15_000,
      "every run reported completed by its owner",
    );
    await a.reporter.idle();
    await b.reporter.idle();
    // Exactly one replica holds each run; the other forgot it.
    for (const o of owners()) expect(o).toHaveLength(1);
    expect(h.standIn.count("create", "jobs")).toBe(2 * ids.length); // each replica tried once; one 409 each
    expect(h.standIn.list("jobs")).toHaveLength(ids.length);
    // GitHub: one check run per commit, and it ended as success. Before the fix, the losing replica
    // created a second one from the watch and left it `queued` forever.
    const created = checks.writes.filter((w) => w.op === "create");
    expect(created.map((w) => w.u.headSha).sort()).toEqual([...shas].sort());
    for (const c of created) {
      const last = checks.writes.filter((w) => w.id === c.id).at(-1)!;
      expect(last.u).toMatchObject({ status: "completed", conclusion: "success" });
    }
  }, 45_000);

  it("a NUL in the script or the environment: the run ends as an error that says so, and no Job is created", async () => {
    const checks = new MemoryChecks();
    const a = await replica(checks);
    const sha = "ab".repeat(20);
    const [r] = a.scheduler.accept(trigger(sha), [{ ...BUILD, run: "echo a\0b" }]);
    await until(() => a.store.get(r!.spec.id)?.reported?.phase === "completed", 10_000, "the run to be reported");
    expect(a.store.get(r!.spec.id)).toMatchObject({ phase: "completed", outcome: "error", message: "could not start: the job's `run` contains a NUL character" });
    const [r2] = a.scheduler.accept(trigger("cd".repeat(20)), [{ ...BUILD, env: { TOKEN: "x\0y" } }]);
    await until(() => a.store.get(r2!.spec.id)?.phase === "completed", 10_000, "the second run to end");
    expect(a.store.get(r2!.spec.id)!.message).toBe('could not start: the job\'s environment variable "TOKEN" contains a NUL character');
    expect(h.standIn.count("create", "jobs")).toBe(0);
  });
});

describe("an image that cannot exist", () => {
  it("fails at once, naming the image, without waiting for YACI_IMAGE_PULL_GRACE; the Job is deleted", async () => {
    const { executor, rec } = await h.newExecutor({ imagePullGraceMs: 10 * 60_000 });
    const spec = makeSpec({ job: "img", image: "nosuchimage" });
    await executor.start(spec);
    h.standIn.kubelet.imagePullError(
      spec.id,
      "ErrImagePull",
      "main",
      'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/nosuchimage:latest": failed to resolve reference "docker.io/library/nosuchimage:latest": docker.io/library/nosuchimage:latest: not found',
    );
    const fin = await rec.waitPhase(spec.id, "finished", 5_000);
    expect(fin).toMatchObject({ outcome: "failed" });
    expect(fin.phase === "finished" && fin.message).toMatch(/^image nosuchimage does not exist in its registry \(ErrImagePull: rpc error: code = NotFound/);
    await until(() => !h.standIn.get("jobs", spec.id), 5_000, "the Job to be deleted");
  });
});
