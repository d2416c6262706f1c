import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { saveFinalLog } from "../../src/executors/kubernetes/pod-logs.js";
import { SecretMasker } from "../../src/logs/secret-masker.js";
import { LogStore } from "../../src/logs/log-store.js";
import { KubeStandIn } from "../support/kube-stand-in.js";

const TOKEN = "ghs_abcdefghijklmnopqrstuvwxyz0123456789";

function maskAll(chunks: Array<string | Buffer>, secrets: string[] = [TOKEN]): string {
  const m = new SecretMasker(secrets);
  return chunks.map((c) => m.push(c)).join("") + m.end();
}

describe("SecretMasker", () => {
  it("masks the token wherever a chunk boundary falls", () => {
    const text = `cloning with ${TOKEN} now\nok\n`;
    for (let cut = 0; cut <= text.length; cut++) {
      expect(maskAll([text.slice(0, cut), text.slice(cut)])).toBe("cloning with *** now\nok\n");
    }
  });

  it("masks anything shaped like a GitHub token, even unknown ones", () => {
    expect(maskAll(["x-access-token:ghs_ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ@github.com\n", "pat github_pat_11ABCDEFG0123456789_abcdefghijkl\n"], [])).toBe(
      "x-access-token:***@github.com\npat ***\n",
    );
    expect(maskAll(["gh is a tool; ghs_short is not a token\n"], [])).toBe("gh is a tool; ghs_short is not a token\n");
  });

  it("keeps multi-byte characters split across chunks intact", () => {
    const buf = Buffer.from("héllo wörld ✓\n", "utf8");
    const parts = [...buf].map((b) => Buffer.from([b]));
    expect(maskAll(parts)).toBe("héllo wörld ✓\n");
  });

  it("an endless line is emitted in bounded pieces without splitting a token", () => {
    const filler = "x".repeat(70 * 1024);
    const line = `${filler} ${TOKEN} ${filler}`;
    const m = new SecretMasker([TOKEN]);
    let out = "";
    for (let i = 0; i < line.length; i += 1000) out += m.push(line.slice(i, i + 1000));
    const beforeEnd = out.length;
    out += m.end();
    expect(beforeEnd).toBeGreaterThan(64 * 1024); // emitted before the line ended
    expect(out).toBe(`${filler} *** ${filler}`);
  });
});

describe("saveFinalLog (one pods/log read, streamed into the LogStore)", () => {
  let standIn: KubeStandIn;
  let dir: string;
  let store: LogStore;

  beforeEach(async () => {
    standIn = await KubeStandIn.start();
    dir = mkdtempSync(join(tmpdir(), "yaci-logs-"));
    store = new LogStore(dir);
    standIn.autoPod = true;
  });

  afterEach(async () => {
    await standIn.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function podWithLog(log: string): Promise<string> {
    const res = await fetch(`${standIn.url}/apis/batch/v1/namespaces/${standIn.namespace}/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${standIn.token}`, "content-type": "application/json" },
      body: JSON.stringify({ apiVersion: "batch/v1", kind: "Job", metadata: { name: "j" }, spec: { template: { spec: { containers: [{ name: "main", image: "x" }] } } } }),
    });
    expect(res.status).toBe(201);
    standIn.kubelet.run("j", { log });
    return standIn.kubelet.pod("j")!.metadata.name as string;
  }

  it("keeps the end of a log longer than maxBytes, says how much was left out, masks the token", async () => {
    const lines: string[] = [];
    for (let i = 0, size = 0; size < 3 * 1024 * 1024; i++) {
      const line = `line ${i} ünïcødé ${i % 1000 === 0 ? TOKEN : ""}\n`;
      lines.push(line);
      size += line.length;
    }
    lines.push(`the end ${TOKEN}\n`);
    const full = lines.join("");
    const pod = await podWithLog(full);
    const r = await saveFinalLog({ kc: standIn.kubeConfig(), namespace: standIn.namespace, pod, container: "main", runId: "run-1", logStore: store, maxBytes: 1024 * 1024, secrets: [TOKEN] });
    const saved = readFileSync(store.path("run-1"), "utf8");
    const masked = full.split(TOKEN).join("***");
    const header = saved.slice(0, saved.indexOf("\n") + 1);
    const body = saved.slice(header.length);
    expect(header).toBe(`[yaci: the first ${r.omittedBytes} bytes of this log were left out: it is longer than YACI_LOG_MAX_BYTES]\n`);
    expect(masked.endsWith(body)).toBe(true);
    expect(Buffer.byteLength(body)).toBe(r.bytes);
    expect(r.bytes).toBeGreaterThan(1024 * 1024 - 4);
    expect(r.bytes).toBeLessThanOrEqual(1024 * 1024);
    expect(r.bytes + r.omittedBytes).toBe(Buffer.byteLength(masked));
    expect(body.endsWith("the end ***\n")).toBe(true);
    expect(saved).not.toContain(TOKEN);
    expect(standIn.count("get", "pods/log")).toBe(1);
  });

  it("a short log is saved whole, with the trailer", async () => {
    const pod = await podWithLog("one\ntwo\n");
    const r = await saveFinalLog({ kc: standIn.kubeConfig(), namespace: standIn.namespace, pod, container: "main", runId: "run-2", logStore: store, maxBytes: 1024 * 1024, trailer: "yaci: cancelled\n" });
    expect(r).toEqual({ bytes: 24, omittedBytes: 0 });
    expect(readFileSync(store.path("run-2"), "utf8")).toBe("one\ntwo\nyaci: cancelled\n");
  });

  it("rejects (with the API's answer) when the container has not started", async () => {
    const pod = await podWithLog("x");
    await expect(
      saveFinalLog({ kc: standIn.kubeConfig(), namespace: standIn.namespace, pod, container: "checkout-that-does-not-exist", runId: "run-3", logStore: store, maxBytes: 1024 }),
    ).rejects.toMatchObject({ code: 400 });
  });

  it("a connection that drops mid-read, or an idle one, rejects (never an uncaught error)", async () => {
    for (const mode of ["drop", "idle"] as const) {
      const server = createServer((_req, res) => {
        res.writeHead(200, { "content-type": "text/plain", "transfer-encoding": "chunked" });
        res.write("partial\n");
        if (mode === "drop") setTimeout(() => res.socket?.destroy(), 50);
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: "c", server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
        users: [{ name: "u", token: "t" }],
        contexts: [{ name: "c", cluster: "c", user: "u" }],
        currentContext: "c",
      });
      try {
        await expect(saveFinalLog({ kc, namespace: "ns", pod: "p", container: "main", runId: `r-${mode}`, logStore: store, maxBytes: 1024, idleTimeoutMs: 200 })).rejects.toThrow();
        await new Promise((r) => setTimeout(r, 100)); // an uncaught error would surface here
      } finally {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
    }
  });
});
