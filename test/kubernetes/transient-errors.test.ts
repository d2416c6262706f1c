import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { captureLog, harness, makeSpec, type Harness } from "./harness.js";

let h: Harness;

beforeEach(async () => {
  h = await harness();
});

afterEach(async () => {
  await h.close();
});

describe("KubernetesExecutor: one failed request loses no job", () => {
  it("an API that refuses connections, then answers 503 and 429 + Retry-After: every job is created once when it answers, none fails to start", async () => {
    const log = captureLog();
    const { executor, rec } = await h.newExecutor({}, { log });
    h.standIn.refuseConnections();
    const specs = Array.from({ length: 10 }, (_, i) => makeSpec({ job: `job${i}` }));
    const starts = specs.map((s) => executor.start(s).then(() => "started", (e: Error) => `failed: ${e.message}`));
    // Let the first tries meet the closed door, then an API that answers, but badly.
    await new Promise((r) => setTimeout(r, 300));
    h.standIn.failRequests(503, { forMs: 800 });
    h.standIn.failRequests(429, { retryAfter: 1, times: 15 });
    h.standIn.acceptConnections();
    expect(await Promise.all(starts)).toEqual(specs.map(() => "started"));
    expect(h.standIn.faulted).toBeGreaterThan(0);
    for (const s of specs) {
      expect(h.standIn.get("jobs", s.id), s.id).toBeDefined();
      expect(h.standIn.get("secrets", s.id), s.id).toBeDefined();
    }
    expect(h.standIn.list("jobs")).toHaveLength(10);
    expect(log.lines.some((l) => /could not create Job .*; try 2 in/.test(l))).toBe(true);
    for (const s of specs) {
      h.standIn.kubelet.succeed(s.id, "ok\n");
      await rec.waitPhase(s.id, "finished", 15_000);
    }
    for (const s of specs) expect(rec.finished(s.id)).toMatchObject([{ outcome: "succeeded" }]);
  });

  it("a permanent answer (403) fails the start at once, with the API's message", async () => {
    const { executor } = await h.newExecutor();
    h.standIn.failRequests(403, { times: 1, match: (r) => r.method === "POST" });
    const started = Date.now();
    await expect(executor.start(makeSpec())).rejects.toThrow(/could not create Job .*: HTTP 403: injected 403/);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("gives up on a transient error once the run's own timeout would pass", async () => {
    const { executor } = await h.newExecutor();
    h.standIn.failRequests(503, { match: (r) => r.method === "POST" });
    await expect(executor.start(makeSpec({ timeoutMs: 400 }))).rejects.toThrow(/could not create Job .*: HTTP 503/);
  });
});
