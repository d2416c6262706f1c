import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { kubeTime } from "../support/kube-stand-in.js";
import { captureLog, harness, makeSpec, TOKEN, until, type Harness } from "./harness.js";

let h: Harness;

beforeEach(async () => {
  h = await harness();
});

afterEach(async () => {
  await h.close();
});


const stored = (id: string) => h.logStore.tail(id, 1 << 20).then((t) => t.text);
const podLog = (job: string) => h.standIn.logs.get(`${h.standIn.kubelet.pod(job)!.metadata.name}/main`) ?? "";
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The job prints `tick N` every few milliseconds until stopped (or its pod is gone). */
function ticker(job: string): { stop: () => void; count: () => number } {
  let n = 0;
  const t = setInterval(() => {
    try {
      h.standIn.kubelet.log(job, `tick ${n + 1}\n`);
      n++;
    } catch {
      clearInterval(t); // the pod is gone
    }
  }, 2);
  return { stop: () => clearInterval(t), count: () => n };
}

/** `text` is `tick 1` … `tick N`, each once and in order. */
function expectTicksOnceInOrder(text: string): void {
  const lines = text.split("\n").filter(Boolean);
  expect(lines.length).toBeGreaterThan(20);
  expect(lines).toEqual(lines.map((_, i) => `tick ${i + 1}`));
}

async function runningJob(name: string, log: string) {
  const env = await h.newExecutor();
  const spec = makeSpec({ job: name });
  await env.executor.start(spec);
  h.standIn.kubelet.run(spec.id, { log });
  await env.rec.waitPhase(spec.id, "running");
  return { ...env, id: spec.id };
}

describe("followLog: the live log of a running Kubernetes job, while someone watches", () => {
  it("copies what the job prints while it runs into the LogStore, from the start", async () => {
    const { executor, id } = await runningJob("live", "line 1\n");
    const watcher = new AbortController();
    executor.followLog(id, watcher.signal);
    await until(async () => (await stored(id)) === "line 1\n", 5_000, "the first line");
    h.standIn.kubelet.log(id, "line 2\n");
    h.standIn.kubelet.log(id, "line 3\n");
    await until(async () => (await stored(id)) === "line 1\nline 2\nline 3\n", 5_000, "the appended lines");
    const [req] = h.standIn.followRequests;
    expect(h.standIn.followRequests).toHaveLength(1);
    expect(req!.query.get("container")).toBe("main");
    watcher.abort();
    await until(() => h.standIn.followCount === 0, 5_000, "the stream to close");
  });

  it("two watchers share one stream; it closes when both left; a later watcher copies from the start again", async () => {
    const { executor, id } = await runningJob("shared", "a\n");
    const one = new AbortController();
    const two = new AbortController();
    executor.followLog(id, one.signal);
    executor.followLog(id, two.signal);
    await until(async () => (await stored(id)) === "a\n", 5_000, "the log");
    expect(h.standIn.followRequests).toHaveLength(1);
    expect(h.standIn.followCount).toBe(1);

    one.abort();
    h.standIn.kubelet.log(id, "b\n");
    await until(async () => (await stored(id)) === "a\nb\n", 5_000, "the stream to go on for the second watcher");
    expect(h.standIn.followCount).toBe(1);

    two.abort();
    await until(() => h.standIn.followCount === 0, 5_000, "the stream to close");
    h.standIn.kubelet.log(id, "c\n");
    await pause(200);
    expect(await stored(id)).toBe("a\nb\n"); // nobody watches: nothing is copied

    const three = new AbortController();
    executor.followLog(id, three.signal);
    await until(async () => (await stored(id)) === "a\nb\nc\n", 5_000, "a fresh copy, nothing twice");
    expect(h.standIn.followRequests).toHaveLength(2);
    three.abort();
    await until(() => h.standIn.followCount === 0, 5_000, "the stream to close");
  });

  it("masks the checkout token, even split across chunks", async () => {
    const { executor, id } = await runningJob("secret", `token is ${TOKEN}\n`);
    const watcher = new AbortController();
    executor.followLog(id, watcher.signal);
    await until(async () => (await stored(id)) === "token is ***\n", 5_000, "the masked line");
    h.standIn.kubelet.log(id, `again ${TOKEN.slice(0, 12)}`);
    await pause(100);
    h.standIn.kubelet.log(id, `${TOKEN.slice(12)} done\n`);
    await until(async () => (await stored(id)) === "token is ***\nagain *** done\n", 5_000, "the split token masked");
    expect(await stored(id)).not.toContain(TOKEN.slice(4, 16));
    watcher.abort();
  });

  it("the final log after the job ends is exactly the pod's log (the stream stops first)", async () => {
    const { executor, rec, id } = await runningJob("final", "one\n");
    const watcher = new AbortController();
    executor.followLog(id, watcher.signal);
    await until(async () => (await stored(id)) === "one\n", 5_000, "the first line");
    h.standIn.kubelet.log(id, "two\n");
    await until(async () => (await stored(id)) === "one\ntwo\n", 5_000, "the second line");
    h.standIn.kubelet.log(id, "three\n");
    h.standIn.kubelet.exit(id, 0);
    await rec.waitPhase(id, "finished");
    expect(await stored(id)).toBe("one\ntwo\nthree\n");
    expect(podLog(id)).toBe("one\ntwo\nthree\n");
    await until(() => h.standIn.followCount === 0, 5_000, "the stream to close");
    await pause(200);
    expect(await stored(id)).toBe("one\ntwo\nthree\n");
    // A watcher that comes after the end starts nothing.
    executor.followLog(id, new AbortController().signal);
    await pause(100);
    expect(h.standIn.followRequests).toHaveLength(1);
    watcher.abort();
  });

  it("cancelling a watched job that keeps printing: the stream stops before the log is saved, nothing is appended after it", async () => {
    const { executor, rec, id } = await runningJob("cancel", "working\n");
    const watcher = new AbortController();
    executor.followLog(id, watcher.signal);
    await until(async () => (await stored(id)) === "working\n", 5_000, "the first line");
    const ticks = ticker(id);
    await until(async () => (await stored(id)).includes("tick 20\n"), 5_000, "some ticks");
    await executor.cancel(id);
    await rec.waitPhase(id, "finished");
    await until(() => h.standIn.followCount === 0, 5_000, "the stream to close");
    await pause(100);
    ticks.stop();
    const text = await stored(id);
    expect(text.endsWith("\nyaci: cancelled\n")).toBe(true);
    expectTicksOnceInOrder(text.slice("working\n".length, -"yaci: cancelled\n".length));
    watcher.abort();
  });

  it("a watched job passing its deadline while printing: the stream stops before its log is saved", async () => {
    const { executor, rec, id } = await runningJob("deadline", "working\n");
    const watcher = new AbortController();
    executor.followLog(id, watcher.signal);
    await until(async () => (await stored(id)) === "working\n", 5_000, "the first line");
    const ticks = ticker(id);
    await until(async () => (await stored(id)).includes("tick 20\n"), 5_000, "some ticks");
    await h.standIn.kubelet.deadlineExceeded(id, 300); // the pod prints on for 300 ms, then is gone
    await rec.waitPhase(id, "finished");
    ticks.stop();
    await until(() => h.standIn.followCount === 0, 5_000, "the stream to close");
    await pause(100);
    const text = await stored(id);
    expect(text.startsWith("working\n")).toBe(true);
    const saved = text.slice("working\n".length).replace(/yaci: .*\n$/, "");
    expectTicksOnceInOrder(saved);
    // The log read when the deletion began, not what the stream would have copied after it.
    expect(saved.split("\n").filter(Boolean).length).toBeLessThan(ticks.count() - 10);
    expect(h.standIn.followRequests).toHaveLength(1);
    watcher.abort();
  });

  it("a watched pod being deleted (a drain) while printing: its log is saved early, the stream stopped first", async () => {
    const { executor, rec, id } = await runningJob("drain", "working\n");
    const watcher = new AbortController();
    executor.followLog(id, watcher.signal);
    await until(async () => (await stored(id)) === "working\n", 5_000, "the first line");
    const ticks = ticker(id);
    await until(async () => (await stored(id)).includes("tick 20\n"), 5_000, "some ticks");
    const pod = h.standIn.kubelet.pod(id)!.metadata.name as string;
    h.standIn.modify("pods", pod, (o) => (o.metadata.deletionTimestamp = kubeTime()));
    await pause(300); // the pod prints on while it terminates
    h.standIn.kubelet.deletePod(id);
    await rec.waitPhase(id, "finished");
    ticks.stop();
    await until(() => h.standIn.followCount === 0, 5_000, "the stream to close");
    await pause(100);
    const text = await stored(id);
    expect(text.startsWith("working\n")).toBe(true);
    const saved = text.slice("working\n".length).replace(/yaci: .*\n$/, "");
    expectTicksOnceInOrder(saved);
    expect(saved.split("\n").filter(Boolean).length).toBeLessThan(ticks.count() - 10);
    watcher.abort();
  });

  it("a job whose pod is not running yet is streamed once it runs", async () => {
    const { executor, rec } = await h.newExecutor();
    const spec = makeSpec({ job: "later" });
    await executor.start(spec);
    await rec.waitPhase(spec.id, "pending");
    const watcher = new AbortController();
    executor.followLog(spec.id, watcher.signal);
    h.standIn.kubelet.schedule(spec.id);
    await pause(200);
    expect(h.standIn.followRequests).toHaveLength(0); // not started: nothing to read yet
    h.standIn.kubelet.run(spec.id, { log: "hello\n" });
    await until(async () => (await stored(spec.id)) === "hello\n", 5_000, "the log once it runs");
    h.standIn.kubelet.log(spec.id, "world\n");
    await until(async () => (await stored(spec.id)) === "hello\nworld\n", 5_000, "the next line");
    expect(h.standIn.followRequests).toHaveLength(1);
    watcher.abort();
    await until(() => h.standIn.followCount === 0, 5_000, "the stream to close");
  });

  it("a watcher who leaves before the pod runs starts nothing", async () => {
    const { executor, rec } = await h.newExecutor();
    const spec = makeSpec({ job: "gone-early" });
    await executor.start(spec);
    await rec.waitPhase(spec.id, "pending");
    const watcher = new AbortController();
    executor.followLog(spec.id, watcher.signal);
    watcher.abort();
    h.standIn.kubelet.run(spec.id, { log: "x\n" });
    await rec.waitPhase(spec.id, "running");
    await pause(200);
    expect(h.standIn.followRequests).toHaveLength(0);
    // An already aborted signal counts for nothing.
    executor.followLog(spec.id, AbortSignal.abort());
    await pause(100);
    expect(h.standIn.followRequests).toHaveLength(0);
  });

  it("a pod deleted under the stream ends it quietly: the run finishes once, nothing crashes", async () => {
    const log = captureLog();
    const { executor, rec } = await h.newExecutor({}, { log });
    const spec = makeSpec({ job: "pod-gone" });
    await executor.start(spec);
    h.standIn.kubelet.run(spec.id, { log: "before\n" });
    await rec.waitPhase(spec.id, "running");
    const watcher = new AbortController();
    executor.followLog(spec.id, watcher.signal);
    await until(async () => (await stored(spec.id)) === "before\n", 5_000, "the log");
    h.standIn.kubelet.deletePod(spec.id);
    await until(() => h.standIn.followCount === 0, 5_000, "the stream to end");
    await rec.waitPhase(spec.id, "finished");
    await pause(200);
    expect(rec.finished(spec.id)).toHaveLength(1);
    expect(rec.of(spec.id).filter((o) => o.phase === "running")).toHaveLength(1);
    expect(log.lines.filter((l) => l.startsWith("error"))).toEqual([]);
    watcher.abort();
  });
});
