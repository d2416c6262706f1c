import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openFollowStream } from "../../src/executors/kubernetes/pod-logs.js";
import { captureLog, harness, makeSpec, until, type Harness } from "./harness.js";

let h: Harness;

beforeEach(async () => {
  h = await harness();
});

afterEach(async () => {
  await h.close();
});


const stored = (id: string) => h.logStore.tail(id, 1 << 20).then((t) => t.text);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A Job whose pod runs, printing `log`; returns its run id. */
async function runningJob(name: string, log: string): Promise<string> {
  const { executor, rec } = await h.newExecutor();
  const spec = makeSpec({ job: name });
  await executor.start(spec);
  h.standIn.kubelet.run(spec.id, { log });
  await rec.waitPhase(spec.id, "running");
  return spec.id;
}

describe("openFollowStream", () => {
  it("a 404 (no such pod) is logged and ends the stream; stopping a live stream never throws", async () => {
    const log = captureLog();
    const s = openFollowStream({
      kc: h.standIn.kubeConfig(),
      namespace: h.standIn.namespace,
      pod: "no-such-pod",
      container: "main",
      runId: "no-such-run",
      logStore: h.logStore,
      maxBytes: 1024,
      log,
    });
    await s.done;
    expect(log.lines.join("\n")).toMatch(/warn .*no-such-run.*HTTP 404/);
    await s.stop();
  });

  it("a connection that drops mid-stream is logged and ends the stream (never an uncaught error)", async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain", "transfer-encoding": "chunked" });
      res.write("partial\n");
      setTimeout(() => res.socket?.destroy(), 50);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "c", server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
      users: [{ name: "u", token: "t" }],
      contexts: [{ name: "c", cluster: "c", user: "u" }],
      currentContext: "c",
    });
    const log = captureLog();
    try {
      const s = openFollowStream({ kc, namespace: "ns", pod: "p", container: "main", runId: "dropped", logStore: h.logStore, maxBytes: 1024, log });
      await s.done;
      await pause(100); // an uncaught error would surface here
      expect(await stored("dropped")).toBe("partial\n");
      expect(log.lines.join("\n")).toMatch(/warn .*dropped.*ended/);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it("stops at limitBytes with a note (the end of a longer log is saved when the job ends)", async () => {
    const id = await runningJob("big", "x".repeat(2000) + "\n");
    const s = openFollowStream({
      kc: h.standIn.kubeConfig(),
      namespace: h.standIn.namespace,
      pod: h.standIn.kubelet.pod(id)!.metadata.name as string,
      container: "main",
      runId: id,
      logStore: h.logStore,
      maxBytes: 1024,
    });
    await s.done;
    const text = await stored(id);
    expect(text.startsWith("x".repeat(1024) + "\n[yaci: the live log stops after YACI_LOG_MAX_BYTES")).toBe(true);
  });

  it("stop() while data flows: nothing is written after it resolves", async () => {
    const id = await runningJob("stop", "start\n");
    const s = openFollowStream({
      kc: h.standIn.kubeConfig(),
      namespace: h.standIn.namespace,
      pod: h.standIn.kubelet.pod(id)!.metadata.name as string,
      container: "main",
      runId: id,
      logStore: h.logStore,
      maxBytes: 1 << 20,
    });
    await until(async () => (await stored(id)) === "start\n", 5_000, "the log");
    const ticker = setInterval(() => h.standIn.kubelet.log(id, "tick\n"), 5);
    await pause(100);
    await s.stop();
    const after = await stored(id);
    await pause(200);
    clearInterval(ticker);
    expect(await stored(id)).toBe(after);
    await s.done;
    await until(() => h.standIn.followCount === 0, 5_000, "the stream to close");
  });
});
