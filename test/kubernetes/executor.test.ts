import { existsSync, readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { harness, logReads, makeSpec, ManualClock, quiesce, TOKEN, until, type Harness } from "./harness.js";

let h: Harness;

beforeEach(async () => {
  h = await harness();
});

afterEach(async () => {
  await h.close();
});


describe("KubernetesExecutor against the API stand-in (real HTTP)", () => {
  it("creates the Job and its Secret, reports running then success exactly once, saves the log first", async () => {
    const { executor, rec } = await h.newExecutor();
    const spec = makeSpec();
    // What the log file holds at the very moment `finished` is emitted (the reporter reads it then).
    let logAtFinish: string | undefined;
    executor.subscribe((o) => {
      if (o.runId === spec.id && o.phase === "finished") logAtFinish = existsSync(h.logStore.path(spec.id)) ? readFileSync(h.logStore.path(spec.id), "utf8") : "(no log file)";
    });
    await executor.start(spec);

    const job = h.standIn.get("jobs", spec.id)!;
    expect(job.metadata.labels).toMatchObject({ "app.kubernetes.io/managed-by": "yaci", "yaci.dev/run-id": spec.id });
    expect(JSON.parse(job.metadata.annotations["yaci.dev/spec"])).toEqual(spec);
    const secret = h.standIn.get("secrets", spec.id)!;
    expect(Buffer.from(secret.data.token, "base64").toString()).toBe(TOKEN);
    expect(secret.metadata.ownerReferences).toEqual([{ apiVersion: "batch/v1", kind: "Job", name: spec.id, uid: job.metadata.uid }]);
    // The token is nowhere in the Job: only a reference to the Secret, in the init container.
    expect(JSON.stringify(job)).not.toContain(TOKEN);

    await rec.waitPhase(spec.id, "pending");
    h.standIn.kubelet.run(spec.id, { log: "installing\n" });
    const running = await rec.waitPhase(spec.id, "running");
    expect(running).toMatchObject({ phase: "running", startedAt: expect.any(Date) });

    h.standIn.kubelet.succeed(spec.id, "installing\nall 12 tests passed\n");
    const fin = await rec.waitPhase(spec.id, "finished");
    expect(fin).toMatchObject({ outcome: "succeeded", exitCode: 0, startedAt: expect.any(Date), finishedAt: expect.any(Date) });
    expect(logAtFinish).toBe("installing\nall 12 tests passed\n");
    expect((await h.logStore.tail(spec.id, 1000)).text).toBe("installing\nall 12 tests passed\n");

    await quiesce(h, executor, rec);
    expect(rec.finished(spec.id)).toHaveLength(1);
    expect(logReads(h, spec.id)).toBe(1);
    expect(h.tokens).toHaveLength(1);
  });

  it("a failing script: failed with the container's exit code", async () => {
    const { executor, rec } = await h.newExecutor();
    const spec = makeSpec({ job: "lint" });
    await executor.start(spec);
    h.standIn.kubelet.run(spec.id);
    h.standIn.kubelet.fail(spec.id, 2, "src/a.ts: 3 problems\n");
    const fin = await rec.waitPhase(spec.id, "finished");
    expect(fin).toMatchObject({ outcome: "failed", exitCode: 2 });
    expect((await h.logStore.tail(spec.id, 1000)).text).toBe("src/a.ts: 3 problems\n");
    await quiesce(h, executor, rec);
    expect(rec.finished(spec.id)).toHaveLength(1);
  });

  it("a failing checkout: failed with the init container's message, its log saved", async () => {
    const { executor, rec } = await h.newExecutor();
    const spec = makeSpec({ job: "co" });
    await executor.start(spec);
    h.standIn.kubelet.checkoutFails(spec.id, 1, `yaci: could not download octo-org/hello-world (token ${TOKEN})\n`);
    const fin = await rec.waitPhase(spec.id, "finished");
    expect(fin).toMatchObject({ outcome: "failed" });
    expect(fin.phase === "finished" && fin.message).toMatch(/^checkout failed: yaci: could not download/);
    const log = (await h.logStore.tail(spec.id, 1000)).text;
    expect(log).toContain("could not download");
    expect(log).not.toContain(TOKEN);
    expect(log).toContain("***");
    await quiesce(h, executor, rec);
    expect(rec.finished(spec.id)).toHaveLength(1);
  });

  it("deadline exceeded: timed_out, with the log read before the pod is gone", async () => {
    const { executor, rec } = await h.newExecutor();
    const spec = makeSpec({ job: "slow", timeoutMs: 90_000 });
    await executor.start(spec);
    expect(h.standIn.get("jobs", spec.id)!.spec.activeDeadlineSeconds).toBe(90);
    h.standIn.kubelet.run(spec.id, { log: "sleeping\n" });
    await rec.waitPhase(spec.id, "running");
    await h.standIn.kubelet.deadlineExceeded(spec.id, 1000);
    const fin = await rec.waitPhase(spec.id, "finished");
    expect(fin).toMatchObject({ outcome: "timed_out", message: "ran longer than its timeout of 1m30s" });
    expect((await h.logStore.tail(spec.id, 1000)).text).toBe("sleeping\n");
    await quiesce(h, executor, rec);
    expect(rec.finished(spec.id)).toHaveLength(1);
  });

  it("an image that cannot be pulled: pending during the grace, then failed and the Job deleted", async () => {
    const { executor, rec } = await h.newExecutor({ imagePullGraceMs: 400 });
    const spec = makeSpec({ job: "img", image: "registry.example/nope:1" });
    await executor.start(spec);
    h.standIn.kubelet.imagePullError(spec.id, "ImagePullBackOff");
    const pending = await rec.waitFor((o) => o.runId === spec.id && o.phase === "pending" && !!o.waitingReason, 5000);
    expect(pending).toMatchObject({ waitingReason: "image registry.example/nope:1: ImagePullBackOff" });
    expect(rec.finished(spec.id)).toHaveLength(0);
    const fin = await rec.waitPhase(spec.id, "finished");
    expect(fin).toMatchObject({ outcome: "failed" });
    expect(fin.phase === "finished" && fin.message).toMatch(/^image registry\.example\/nope:1 could not be pulled \(ImagePullBackOff/);
    await until(() => !h.standIn.get("jobs", spec.id), 5000, "the Job to be deleted");
    expect(h.standIn.get("secrets", spec.id)).toBeUndefined(); // deleted with its owner
    expect((await h.logStore.tail(spec.id, 1000)).text).toContain("could not be pulled");
    await quiesce(h, executor, rec);
    expect(rec.finished(spec.id)).toHaveLength(1);
    const del = h.standIn.requests.filter((r) => r.verb === "delete");
    expect(del).toHaveLength(1);
    expect(del[0]!.query.get("propagationPolicy")).toBe("Background");
  });

  it("unschedulable: stays pending with the scheduler's reason, then fails after the pending timeout", async () => {
    // The timeout counts from the Job's creationTimestamp (whole seconds, as the API server writes
    // it), on a clock the test moves: no dependence on how fast this machine is.
    const clock = new ManualClock(Date.now());
    const { executor, rec } = await h.newExecutor({ pendingTimeoutMs: 1500 }, { clock });
    const spec = makeSpec({ job: "big", resources: { cpu: "64", memory: "512Gi" } });
    await executor.start(spec);
    h.standIn.kubelet.unschedulable(spec.id, "0/3 nodes are available: 3 Insufficient memory.");
    const pending = await rec.waitFor((o) => o.runId === spec.id && o.phase === "pending" && !!o.waitingReason, 5000);
    expect(pending).toMatchObject({ waitingReason: "unschedulable: 0/3 nodes are available: 3 Insufficient memory." });
    const created = Date.parse(h.standIn.get("jobs", spec.id)!.metadata.creationTimestamp);
    clock.advanceTo(created + 1499);
    // 1 ms before the timeout the run is judged again (the scheduler's message changes) and still waits.
    h.standIn.kubelet.unschedulable(spec.id, "0/4 nodes are available: 4 Insufficient memory.");
    await rec.waitFor((o) => o.runId === spec.id && o.phase === "pending" && !!o.waitingReason?.includes("0/4 nodes"), 5000);
    expect(rec.finished(spec.id)).toHaveLength(0);
    clock.advanceTo(created + 1500 + 50);
    const fin = await rec.waitPhase(spec.id, "finished", 5000);
    expect(fin).toMatchObject({ outcome: "failed", message: "waited more than 1.5s for a node: 0/4 nodes are available: 4 Insufficient memory." });
    await until(() => !h.standIn.get("jobs", spec.id), 5000, "the Job to be deleted");
    await quiesce(h, executor, rec);
    expect(rec.finished(spec.id)).toHaveLength(1);
  });

  it("OOMKilled: failed with 'out of memory (limit …)'", async () => {
    const { executor, rec } = await h.newExecutor();
    const spec = makeSpec({ job: "mem", resources: { memory: "1Gi" } });
    await executor.start(spec);
    h.standIn.kubelet.run(spec.id);
    h.standIn.kubelet.oomKill(spec.id, "allocating\n");
    const fin = await rec.waitPhase(spec.id, "finished");
    expect(fin).toMatchObject({ outcome: "failed", exitCode: 137, message: "out of memory (limit 1Gi)" });
    await quiesce(h, executor, rec);
    expect(rec.finished(spec.id)).toHaveLength(1);
  });

  it("eviction: failed with the kubelet's reason", async () => {
    const { executor, rec } = await h.newExecutor();
    const spec = makeSpec({ job: "evicted" });
    await executor.start(spec);
    h.standIn.kubelet.run(spec.id, { log: "working\n" });
    await rec.waitPhase(spec.id, "running");
    h.standIn.kubelet.evict(spec.id, "The node was low on resource: memory.");
    const fin = await rec.waitPhase(spec.id, "finished");
    expect(fin).toMatchObject({ outcome: "failed", message: "evicted: The node was low on resource: memory." });
    expect((await h.logStore.tail(spec.id, 1000)).text).toBe("working\n");
    await quiesce(h, executor, rec);
    expect(rec.finished(spec.id)).toHaveLength(1);
  });

  it("the pod deleted under a running job: failed, 'the pod was deleted'", async () => {
    const { executor, rec } = await h.newExecutor();
    const spec = makeSpec({ job: "podgone" });
    await executor.start(spec);
    h.standIn.kubelet.run(spec.id);
    await rec.waitPhase(spec.id, "running");
    h.standIn.kubelet.deletePod(spec.id);
    const fin = await rec.waitPhase(spec.id, "finished");
    expect(fin).toMatchObject({ outcome: "failed", message: "the pod was deleted before it finished" });
    await quiesce(h, executor, rec);
    expect(rec.finished(spec.id)).toHaveLength(1);
  });

  it("the Job deleted by someone else: cancelled, exactly once", async () => {
    const { executor, rec } = await h.newExecutor();
    const spec = makeSpec({ job: "deleted" });
    await executor.start(spec);
    h.standIn.kubelet.run(spec.id);
    await rec.waitPhase(spec.id, "running");
    h.standIn.deleteJob(spec.id);
    const fin = await rec.waitPhase(spec.id, "finished");
    expect(fin).toMatchObject({ outcome: "cancelled", message: "the Kubernetes Job was deleted" });
    await quiesce(h, executor, rec);
    expect(rec.finished(spec.id)).toHaveLength(1);
  });

  it("cancel(): deletes the Job (background propagation), saves the log so far, emits cancelled once; safe to repeat", async () => {
    const { executor, rec } = await h.newExecutor();
    const spec = makeSpec({ job: "cancel-me" });
    await executor.start(spec);
    h.standIn.kubelet.run(spec.id, { log: "step 1\n" });
    await rec.waitPhase(spec.id, "running");
    await executor.cancel(spec.id);
    expect(rec.finished(spec.id)).toEqual([expect.objectContaining({ outcome: "cancelled", message: "cancelled" })]);
    expect(h.standIn.get("jobs", spec.id)).toBeUndefined();
    expect(h.standIn.list("pods")).toHaveLength(0);
    expect(h.standIn.get("secrets", spec.id)).toBeUndefined();
    expect((await h.logStore.tail(spec.id, 1000)).text).toBe("step 1\nyaci: cancelled\n");
    await executor.cancel(spec.id);
    await quiesce(h, executor, rec);
    expect(rec.finished(spec.id)).toHaveLength(1);
    expect(h.standIn.count("delete", "jobs")).toBe(1);
  });

  it("cancel() of a job that never started (or is gone) finishes it as cancelled", async () => {
    const { executor, rec } = await h.newExecutor();
    await executor.cancel("yaci-never-0000000-0000000000-1");
    expect(rec.finished("yaci-never-0000000-0000000000-1")).toEqual([expect.objectContaining({ outcome: "cancelled" })]);
  });

  it("an API run (checkout: false): no init container, no Secret, no token minted", async () => {
    const { executor, rec } = await h.newExecutor();
    const spec = makeSpec({ job: "api", event: "api", checkout: false });
    await executor.start(spec);
    const job = h.standIn.get("jobs", spec.id)!;
    expect(job.spec.template.spec.initContainers).toBeUndefined();
    expect(h.standIn.list("secrets")).toHaveLength(0);
    expect(h.tokens).toHaveLength(0);
    h.standIn.kubelet.succeed(spec.id, "ok\n");
    await rec.waitPhase(spec.id, "finished");
  });

  it("a dropped watch: resumes from the last resourceVersion (no re-list) and misses nothing", async () => {
    const { executor, rec } = await h.newExecutor();
    const spec = makeSpec({ job: "drop" });
    await executor.start(spec);
    h.standIn.kubelet.run(spec.id);
    await rec.waitPhase(spec.id, "running");
    const lists = h.standIn.count("list");
    const watches = h.standIn.count("watch");
    h.standIn.holdWatches();
    expect(h.standIn.dropWatches()).toBe(2);
    // While no watch is connected, the job ends.
    h.standIn.kubelet.succeed(spec.id, "done\n");
    await until(() => h.standIn.count("watch") >= watches + 2, 5000, "both watches to reconnect");
    h.standIn.releaseWatches();
    const fin = await rec.waitPhase(spec.id, "finished");
    expect(fin).toMatchObject({ outcome: "succeeded" });
    expect(h.standIn.count("list")).toBe(lists);
    const resumed = h.standIn.requests.filter((r) => r.verb === "watch").slice(-2);
    for (const r of resumed) expect(Number(r.query.get("resourceVersion"))).toBeGreaterThan(1000);
    await quiesce(h, executor, rec);
    expect(rec.finished(spec.id)).toHaveLength(1);
  });

  for (const goneAs of ["event", "status"] as const) {
    it(`410 Gone (${goneAs === "event" ? "an ERROR event in the stream" : "the HTTP status"}): re-lists and still reports once`, async () => {
      h.standIn.goneAs = goneAs;
      const { executor, rec } = await h.newExecutor();
      const a = makeSpec({ job: "gone-a" });
      const b = makeSpec({ job: "gone-b" });
      await executor.start(a);
      await executor.start(b);
      h.standIn.kubelet.run(a.id);
      h.standIn.kubelet.run(b.id);
      await rec.waitPhase(a.id, "running");
      await rec.waitPhase(b.id, "running");
      const lists = h.standIn.count("list");
      h.standIn.holdWatches();
      h.standIn.dropWatches();
      h.standIn.kubelet.fail(a.id, 3);
      h.standIn.deleteJob(b.id); // deleted while nobody watched: only a re-list can tell
      h.standIn.compact();
      h.standIn.releaseWatches();
      const finA = await rec.waitPhase(a.id, "finished");
      const finB = await rec.waitPhase(b.id, "finished");
      expect(finA).toMatchObject({ outcome: "failed", exitCode: 3 });
      expect(finB).toMatchObject({ outcome: "cancelled" });
      expect(h.standIn.count("list")).toBe(lists + 2); // jobs and pods re-listed once each
      await quiesce(h, executor, rec);
      expect(rec.finished(a.id)).toHaveLength(1);
      expect(rec.finished(b.id)).toHaveLength(1);
    });
  }

  it("the periodic re-list (safety net) repairs lost events, with no per-job requests", async () => {
    const { executor, rec } = await h.newExecutor({ relistIntervalMs: 400 });
    const spec = makeSpec({ job: "lost" });
    await executor.start(spec);
    h.standIn.kubelet.run(spec.id);
    await rec.waitPhase(spec.id, "running");
    h.standIn.muteWatches = true; // the watch looks healthy but delivers nothing
    h.standIn.kubelet.fail(spec.id, 4, "boom\n");
    const fin = await rec.waitPhase(spec.id, "finished", 5000);
    expect(fin).toMatchObject({ outcome: "failed", exitCode: 4 });
    expect(h.standIn.count("list")).toBeGreaterThanOrEqual(4);
    expect(h.standIn.count("get", "jobs") + h.standIn.count("get", "pods")).toBe(0);
  });

  it("an unreachable cluster at start: ready() is false, it keeps retrying, then works", async () => {
    const port = h.standIn.port;
    await h.standIn.close();
    const { KubeStandIn } = await import("../support/kube-stand-in.js");
    const { createKubernetesExecutor } = await import("../../src/executors/kubernetes/kubernetes-executor.js");
    const lines: string[] = [];
    const log = { info: (_f: object, m: string) => lines.push(`info ${m}`), warn: (_f: object, m: string) => lines.push(`warn ${m}`), error: (_f: object, m: string) => lines.push(`error ${m}`) };
    const kc = h.standIn.kubeConfig(); // still points at the closed port
    const executor = await createKubernetesExecutor({
      env: {},
      logStore: h.logStore,
      checkoutToken: async () => TOKEN,
      githubApiUrl: "https://api.github.com",
      kubeConfig: { kc, namespace: h.standIn.namespace },
      backoff: { initialMs: 50, maxMs: 200 },
      recoverWaitMs: 300,
      log,
    });
    try {
      expect(await executor.ready()).toBe(false);
      expect(await executor.recover()).toEqual([]);
      expect(lines.some((l) => l.startsWith("error kubernetes: jobs list failed"))).toBe(true);
      expect(executor.notReadyReason()).toMatch(/list/);
      h.standIn = await KubeStandIn.start({ port });
      await until(() => executor.ready(), 5000, "ready()");
      const rec: Array<{ runId: string; phase: string }> = [];
      executor.subscribe((o) => rec.push(o));
      const spec = makeSpec({ job: "late" });
      await executor.start(spec);
      h.standIn.kubelet.succeed(spec.id, "ok\n");
      await until(() => rec.some((o) => o.runId === spec.id && o.phase === "finished"), 5000, "finished");
    } finally {
      await executor.close();
    }
  });
});
