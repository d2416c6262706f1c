/** The API stand-in behaves like the API server where the executor depends on it. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KubeStandIn, matchesSelector, parseSelector, type KObj } from "../support/kube-stand-in.js";

let s: KubeStandIn;
beforeEach(async () => {
  s = await KubeStandIn.start();
});
afterEach(async () => {
  await s.close();
});

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: KObj }> {
  const res = await fetch(`${s.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${s.token}`, "content-type": "application/json", ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as KObj) : {} };
}

const jobs = () => `/apis/batch/v1/namespaces/${s.namespace}/jobs`;
const job = (name: string, labels: Record<string, string> = { app: "x" }) => ({
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: { name, labels },
  spec: { template: { spec: { containers: [{ name: "main", image: "alpine" }] } } },
});

/** Reads a watch stream until `n` events arrived (or it ends). */
async function watchEvents(query: string, n: number): Promise<KObj[]> {
  const ctl = new AbortController();
  const res = await fetch(`${s.url}${jobs()}?watch=true&${query}`, { headers: { authorization: `Bearer ${s.token}` }, signal: ctl.signal });
  const events: KObj[] = [];
  let buf = "";
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        events.push(JSON.parse(buf.slice(0, nl)) as KObj);
        buf = buf.slice(nl + 1);
      }
      if (events.length >= n) break;
    }
  } finally {
    ctl.abort();
  }
  return events;
}

describe("the Kubernetes API stand-in", () => {
  it("requires the bearer token; validates names; 409 on duplicates", async () => {
    expect((await fetch(`${s.url}${jobs()}`)).status).toBe(401);
    expect((await api("POST", jobs(), job("Bad_Name"))).status).toBe(422);
    expect((await api("POST", jobs(), job("a".repeat(64)))).status).toBe(422);
    expect((await api("POST", jobs(), job("ok", { v: "-bad-" }))).status).toBe(422);
    expect((await api("POST", jobs(), job("ok"))).status).toBe(201);
    const dup = await api("POST", jobs(), job("ok"));
    expect(dup).toMatchObject({ status: 409, json: { reason: "AlreadyExists", code: 409 } });
    expect((await api("GET", `/apis/batch/v1/namespaces/other/jobs`)).status).toBe(403);
  });

  it("lists by label selector with a resourceVersion", async () => {
    await api("POST", jobs(), job("a", { app: "yaci", tier: "x" }));
    await api("POST", jobs(), job("b", { app: "other" }));
    const l = await api("GET", `${jobs()}?labelSelector=${encodeURIComponent("app=yaci")}`);
    expect(l.json.items.map((i: KObj) => i.metadata.name)).toEqual(["a"]);
    expect(Number(l.json.metadata.resourceVersion)).toBeGreaterThan(0);
    expect(matchesSelector({ a: "1" }, parseSelector("a=1,!b,c!=2"))).toBe(true);
    expect(matchesSelector({ a: "1", b: "" }, parseSelector("a=1,!b"))).toBe(false);
  });

  it("watches replay history after a resourceVersion; a compacted one gets 410 (event or status)", async () => {
    const l = await api("GET", jobs());
    const rv = l.json.metadata.resourceVersion as string;
    s.autoPod = false;
    await api("POST", jobs(), job("w1"));
    await api("POST", jobs(), job("w2", { app: "other" }));
    await api("DELETE", `${jobs()}/w1`);
    const evs = await watchEvents(`resourceVersion=${rv}&labelSelector=app%3Dx`, 2);
    expect(evs.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(["ADDED w1", "DELETED w1"]);
    s.compact();
    const gone = await watchEvents(`resourceVersion=${rv}`, 1);
    expect(gone).toEqual([{ type: "ERROR", object: expect.objectContaining({ code: 410, reason: "Expired" }) }]);
    s.goneAs = "status";
    const res = await fetch(`${s.url}${jobs()}?watch=true&resourceVersion=${rv}`, { headers: { authorization: `Bearer ${s.token}` } });
    expect(res.status).toBe(410);
  });

  it("DELETE propagates to owned pods and Secrets (Background), not with Orphan", async () => {
    const created = await api("POST", jobs(), job("p1"));
    await api("POST", `/api/v1/namespaces/${s.namespace}/secrets`, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "p1", ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: "p1", uid: created.json.metadata.uid }] },
      stringData: { token: "t" },
    });
    expect(Buffer.from(s.get("secrets", "p1")!.data.token, "base64").toString()).toBe("t");
    expect(s.list("pods")).toHaveLength(1);
    await api("DELETE", `${jobs()}/p1?propagationPolicy=Background`);
    expect(s.list("pods")).toHaveLength(0);
    expect(s.list("secrets")).toHaveLength(0);
    await api("POST", jobs(), job("p2"));
    await api("DELETE", `${jobs()}/p2`, { propagationPolicy: "Orphan" });
    expect(s.list("pods")).toHaveLength(1);
  });

  it("merge patches, with a resourceVersion precondition (409 Conflict)", async () => {
    await api("POST", jobs(), job("m"));
    const mp = { "content-type": "application/merge-patch+json" };
    const p = await api("PATCH", `${jobs()}/m`, { metadata: { annotations: { a: "1" } } }, mp);
    expect(p.json.metadata.annotations).toEqual({ a: "1" });
    expect((await api("PATCH", `${jobs()}/m`, { metadata: { resourceVersion: "1", annotations: { b: "2" } } }, mp)).status).toBe(409);
    expect((await api("PATCH", `${jobs()}/m`, [{ op: "add" }], { "content-type": "application/json-patch+json" })).status).toBe(415);
  });

  it("pods/log: without follow answers what is there and ends; with follow streams appends until the container ends or the pod goes", async () => {
    await api("POST", jobs(), job("l"));
    s.kubelet.run("l", { log: "one\n" });
    const pod = s.kubelet.pod("l")!.metadata.name as string;
    const logUrl = (q: string, name = pod) => `${s.url}/api/v1/namespaces/${s.namespace}/pods/${name}/log?container=main${q}`;
    const auth = { authorization: `Bearer ${s.token}` };
    expect(await (await fetch(logUrl(""), { headers: auth })).text()).toBe("one\n");

    /** Reads a follow stream until it ends; `onData` runs after each chunk. */
    async function follow(name: string, onData: (textSoFar: string) => void): Promise<string> {
      const res = await fetch(logUrl("&follow=true", name), { headers: auth });
      let text = "";
      const decoder = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true });
        onData(text);
      }
      return text;
    }

    const ended = follow(pod, (t) => {
      if (t === "one\n") s.kubelet.log("l", "two\n");
      if (t === "one\ntwo\n") s.kubelet.exit("l", 0, { log: "one\ntwo\nthree\n" });
    });
    expect(await ended).toBe("one\ntwo\nthree\n");
    expect(s.followCount).toBe(0);
    expect(s.followRequests).toHaveLength(1);
    // Terminated: follow answers the whole log at once and ends.
    expect(await (await fetch(logUrl("&follow=true"), { headers: auth })).text()).toBe("one\ntwo\nthree\n");

    await api("POST", jobs(), job("d"));
    s.kubelet.run("d", { log: "x\n" });
    const gone = follow(s.kubelet.pod("d")!.metadata.name as string, (t) => {
      if (t === "x\n") s.kubelet.deletePod("d");
    });
    expect(await gone).toBe("x\n");
    expect(s.followCount).toBe(0);
  });
});
