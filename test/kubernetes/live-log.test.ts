import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { harness, makeSpec, ManualClock, TOKEN, until, type Harness } from "./harness.js";

/**
 * Issue 16: a running Kubernetes job's log so far, for its check run, without one log stream per
 * running pod: one bounded `pods/log` read per refresh, a process-wide cap on those reads per
 * minute (YACI_LIVE_LOG_READS_PER_MINUTE), and none for a job whose run page streams its log.
 */

let h: Harness;

beforeEach(async () => {
  h = await harness();
});

afterEach(async () => {
  await h.close();
});

/** `pods/log` reads that do not follow (the live refreshes and final saves). */
const tailReads = () => h.standIn.requests.filter((r) => r.resource === "pods/log" && r.query.get("follow") !== "true");

describe("liveLog: a running Kubernetes job's log so far", () => {
  it("reads the end of the running container's log with one bounded request, masks the token, and gives nothing once the job ended", async () => {
    const { executor, rec } = await h.newExecutor();
    const spec = makeSpec({ job: "live" });
    await executor.start(spec);
    h.standIn.kubelet.run(spec.id, { log: `first line, token ${TOKEN}\n` });
    await rec.waitPhase(spec.id, "running");

    const tail = await executor.liveLog(spec.id, 80_000);
    expect(tail?.text).toContain("first line");
    expect(tail?.text).not.toContain(TOKEN);
    const [read] = tailReads();
    expect(read!.query.get("container")).toBe("main");
    expect(read!.query.get("limitBytes")).toBe("80000");
    expect(Number(read!.query.get("tailLines"))).toBeGreaterThan(0);

    h.standIn.kubelet.succeed(spec.id, "second line\n");
    await rec.waitPhase(spec.id, "finished");
    const before = tailReads().length;
    expect(await executor.liveLog(spec.id, 80_000)).toBeUndefined();
    expect(tailReads()).toHaveLength(before); // no read for a job that ended
  });

  it("a job whose run page is open reuses the stream that page follows: no read of its own", async () => {
    const { executor, rec } = await h.newExecutor();
    const spec = makeSpec({ job: "watched" });
    await executor.start(spec);
    h.standIn.kubelet.run(spec.id, { log: "streamed line\n" });
    await rec.waitPhase(spec.id, "running");
    const page = new AbortController();
    executor.followLog(spec.id, page.signal);
    await until(async () => (await h.logStore.tail(spec.id, 1000)).text.includes("streamed line"), 5_000, "the page's stream");
    const tail = await executor.liveLog(spec.id, 80_000);
    expect(tail?.text).toContain("streamed line");
    expect(tailReads()).toEqual([]);
    expect(h.standIn.followRequests).toHaveLength(1);
    page.abort();
  });

  it("100 running jobs refreshed every 15 s: pod-log reads stay within the cap of 60 a minute, shared by all jobs", async () => {
    const start = Date.parse("2026-11-29T10:00:00.000Z");
    const clock = new ManualClock(start);
    const { executor, rec } = await h.newExecutor({}, { clock });
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) {
      const spec = makeSpec({ job: `many-${i}`, checkout: false });
      ids.push(spec.id);
      await executor.start(spec);
      h.standIn.kubelet.run(spec.id, { log: `job ${i} says hello\n` });
    }
    for (const id of ids) await rec.waitPhase(id, "running");

    const readsAt: number[] = [];
    const shown = new Map<string, number>();
    const minutes = 5;
    for (let t = start; t < start + minutes * 60_000; t += 15_000) {
      clock.advanceTo(t);
      for (const id of ids) {
        const before = tailReads().length;
        const tail = await executor.liveLog(id, 80_000);
        const made = tailReads().length - before;
        for (let k = 0; k < made; k++) readsAt.push(t);
        if (tail) shown.set(id, (shown.get(id) ?? 0) + 1);
      }
    }
    let busiest = 0;
    for (const t of readsAt) busiest = Math.max(busiest, readsAt.filter((x) => x >= t && x < t + 60_000).length);
    expect(busiest).toBeLessThanOrEqual(60);
    // The cap is used, not left idle (the first minute's reads are repeated as each minute frees them).
    expect(readsAt.length).toBeGreaterThanOrEqual(minutes * 60 - 60);
    // And shared: every job's log was read, more than once, in five minutes.
    expect(ids.filter((id) => (shown.get(id) ?? 0) < 2)).toEqual([]);
  }, 120_000);

  it("YACI_LIVE_LOG_READS_PER_MINUTE=0: no reads at all (only an open run page shows the log live)", async () => {
    const { executor, rec } = await h.newExecutor({ liveLogReadsPerMinute: 0 });
    const spec = makeSpec({ job: "capped" });
    await executor.start(spec);
    h.standIn.kubelet.run(spec.id, { log: "x\n" });
    await rec.waitPhase(spec.id, "running");
    expect(await executor.liveLog(spec.id, 80_000)).toBeUndefined();
    expect(tailReads()).toEqual([]);
  });
});
