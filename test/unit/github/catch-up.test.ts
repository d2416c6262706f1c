import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import nock from "nock";
import { Octokit } from "@octokit/rest";
import type { Timers } from "../../../src/clock.js";
import { CATCHUP_FILE, catchUpOptionsFromEnv, nextCursor, startCatchUp, type CatchUp, type CatchUpOctokit, type CatchUpOptions } from "../../../src/github/catch-up.js";
import type { DeliveryRecord } from "../../support/github-stand-in-types.js";

const NOW = Date.parse("2024-06-01T12:00:00Z");
const HOUR = 3_600_000;
const MIN = 60_000;

/** A delivery as GitHub lists it (the stand-in's record, without what only the stand-in keeps). */
type FakeDelivery = Omit<DeliveryRecord, "throttled_at" | "payload">;

/**
 * GitHub's app deliveries API, modelled: lists newest first with `per_page` and a `cursor` in the
 * Link header; a redelivery adds an attempt with the same guid (whose outcome the test chooses).
 */
class FakeGitHub {
  deliveries: FakeDelivery[] = []; // oldest first
  listCalls: Array<{ per_page?: number; cursor?: string }> = [];
  redeliveries: number[] = [];
  /** What the next redeliveries answer (shifted per call); undefined: 202. */
  redeliverErrors: Array<{ status: number; message: string } | undefined> = [];
  listError: { status: number; message: string } | undefined;
  /** Status code the app "answers" to a redelivery. */
  redeliveryOutcome = 200;
  private nextId = 1;

  add(guid: string, ageMs: number, status_code: number, event = "push", action: string | null = null): FakeDelivery {
    const d: FakeDelivery = {
      id: this.nextId++,
      guid,
      delivered_at: new Date(NOW - ageMs).toISOString(),
      redelivery: false,
      duration: 0.1,
      status: status_code === 0 ? "Failed to connect to host" : "whatever",
      status_code,
      event,
      action,
      installation_id: 1,
      repository_id: 2,
    };
    this.deliveries.push(d);
    this.deliveries.sort((a, b) => Date.parse(a.delivered_at) - Date.parse(b.delivered_at));
    return d;
  }

  octokit(): CatchUpOctokit {
    const apps = {
      listWebhookDeliveries: async (params: { per_page?: number; cursor?: string }) => {
        this.listCalls.push(params);
        if (this.listError) throw Object.assign(new Error(this.listError.message), { status: this.listError.status });
        const perPage = params.per_page ?? 30;
        const newest = [...this.deliveries].reverse();
        const start = params.cursor ? newest.findIndex((d) => `v1_${d.id}` === params.cursor) : 0;
        const page = newest.slice(start, start + perPage);
        const next = newest[start + perPage];
        const headers: Record<string, string> = {};
        if (next) headers.link = `<https://api.github.com/app/hook/deliveries?per_page=${perPage}&cursor=v1_${next.id}>; rel="next"`;
        return { status: 200, url: "", headers, data: page };
      },
      redeliverWebhookDelivery: async (params: { delivery_id: number }) => {
        const err = this.redeliverErrors.shift();
        if (err) throw Object.assign(new Error(err.message), { status: err.status });
        this.redeliveries.push(params.delivery_id);
        const original = this.deliveries.find((d) => d.id === params.delivery_id)!;
        const attempt = this.add(original.guid, 0, this.redeliveryOutcome, original.event, original.action);
        attempt.redelivery = true;
        return { status: 202, url: "", headers: {}, data: {} };
      },
    };
    return { rest: { apps } } as unknown as CatchUpOctokit;
  }

  guidOf(id: number): string {
    return this.deliveries.find((d) => d.id === id)!.guid;
  }
  redeliveredGuids(): string[] {
    return this.redeliveries.map((id) => this.guidOf(id));
  }
}

interface LogLine {
  level: "info" | "warn" | "error";
  obj: Record<string, unknown>;
  msg: string;
}

/** A timer that only fires when the test says so. */
class ManualTimer implements Timers {
  pending: Array<{ fn: () => void; ms: number; handle: number }> = [];
  private n = 0;
  setTimeout(fn: () => void, ms: number): unknown {
    const handle = ++this.n;
    this.pending.push({ fn, ms, handle });
    return handle;
  }
  clearTimeout(handle: unknown): void {
    this.pending = this.pending.filter((p) => p.handle !== handle);
  }
  fire(): void {
    const p = this.pending.shift();
    if (!p) throw new Error("no timer pending");
    p.fn();
  }
}

let dataDir: string;
let github: FakeGitHub;
let logs: LogLine[];
let started: CatchUp[];

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "yaci-catch-up-"));
  github = new FakeGitHub();
  logs = [];
  started = [];
});
afterEach(() => {
  for (const c of started) c.stop();
  rmSync(dataDir, { recursive: true, force: true });
  nock.cleanAll();
});

function start(over: Partial<CatchUpOptions> = {}): CatchUp {
  const c = startCatchUp({
    appOctokit: async () => github.octokit(),
    dataDir,
    log: {
      info: (obj, msg) => logs.push({ level: "info", obj: obj as Record<string, unknown>, msg }),
      warn: (obj, msg) => logs.push({ level: "warn", obj: obj as Record<string, unknown>, msg }),
      error: (obj, msg) => logs.push({ level: "error", obj: obj as Record<string, unknown>, msg }),
    },
    windowMs: 24 * HOUR,
    intervalMs: 10 * MIN,
    now: () => new Date(NOW),
    timer: new ManualTimer(),
    ...over,
  });
  started.push(c);
  return c;
}

describe("catch-up: which deliveries are redelivered", () => {
  it("asks for the guids none of whose attempts succeeded, oldest first, and logs each", async () => {
    github.add("ok", 50 * MIN, 200);
    github.add("no-answer", 40 * MIN, 0, "push");
    github.add("server-error", 60 * MIN, 502, "pull_request", "opened");
    github.add("healed", 30 * MIN, 500);
    github.add("healed", 20 * MIN, 200);
    github.add("redirect", 10 * MIN, 302);
    github.add("accepted", 5 * MIN, 202);
    const result = await start().runOnce();
    expect(result.redelivered).toEqual(["server-error", "no-answer", "redirect"]);
    expect(github.redeliveredGuids()).toEqual(["server-error", "no-answer", "redirect"]);
    expect(result).toMatchObject({ scanned: 7, failed: 3, alreadyAsked: 0, remaining: 0, errors: 0 });
    const asked = logs.filter((l) => l.msg.includes("asked GitHub to redeliver"));
    expect(asked.map((l) => l.obj)).toEqual([
      expect.objectContaining({ guid: "server-error", event: "pull_request", action: "opened" }),
      expect.objectContaining({ guid: "no-answer", event: "push", action: null }),
      expect.objectContaining({ guid: "redirect", event: "push" }),
    ]);
    expect(logs.find((l) => l.msg === "catch-up pass done")?.obj).toMatchObject({ scanned: 7, failed: 3, redelivered: 3 });
  });

  it("orders by each guid's first attempt and redelivers its latest attempt", async () => {
    const first = github.add("twice", 3 * HOUR, 0);
    const latest = github.add("twice", 1 * HOUR, 500);
    github.add("once", 2 * HOUR, 0);
    const result = await start().runOnce();
    expect(result.redelivered).toEqual(["twice", "once"]);
    expect(github.redeliveries[0]).toBe(latest.id);
    expect(github.redeliveries[0]).not.toBe(first.id);
  });

  it("ignores deliveries older than the window and stops paging there", async () => {
    for (let i = 0; i < 6; i++) github.add(`old-${i}`, 30 * HOUR + i * MIN, 0);
    github.add("recent-1", 2 * HOUR, 0);
    github.add("recent-2", 1 * HOUR, 0);
    github.add("recent-3", 1 * MIN, 200);
    const result = await start({ perPage: 2 }).runOnce();
    expect(result.redelivered).toEqual(["recent-1", "recent-2"]);
    expect(result.scanned).toBe(3);
    // Page 1: recent-3, recent-2; page 2: recent-1, old-0 → past the window, no third page.
    expect(github.listCalls).toHaveLength(2);
    expect(github.listCalls[0]).toEqual({ per_page: 2 });
    expect(github.guidOf(Number(github.listCalls[1]!.cursor!.slice(3)))).toBe("recent-1");
  });

  it("a shorter window leaves out what a longer one includes", async () => {
    github.add("five-hours-ago", 5 * HOUR, 0);
    expect((await start({ windowMs: 4 * HOUR }).runOnce()).redelivered).toEqual([]);
    expect((await start({ windowMs: 6 * HOUR }).runOnce()).redelivered).toEqual(["five-hours-ago"]);
  });

  it("follows the cursor through every page inside the window, oldest first across pages", async () => {
    const guids = Array.from({ length: 7 }, (_, i) => `g${i}`);
    guids.forEach((g, i) => github.add(g, (10 - i) * MIN, i % 2 === 0 ? 0 : 200));
    const result = await start({ perPage: 3 }).runOnce();
    expect(github.listCalls.map((c) => c.cursor)).toEqual([undefined, expect.stringMatching(/^v1_/), expect.stringMatching(/^v1_/)]);
    expect(result.scanned).toBe(7);
    expect(result.redelivered).toEqual(["g0", "g2", "g4", "g6"]);
  });
});

describe("catch-up: at most once", () => {
  it("does not ask again in a later pass, even when the redelivery failed too", async () => {
    github.redeliveryOutcome = 0;
    github.add("down", 30 * MIN, 0);
    const c = start();
    expect((await c.runOnce()).redelivered).toEqual(["down"]);
    const second = await c.runOnce();
    expect(second).toMatchObject({ redelivered: [], failed: 1, alreadyAsked: 1 });
    expect(github.redeliveries).toHaveLength(1);
  });

  it("remembers across restarts in <dataDir>/catch-up.json; another data dir would ask again", async () => {
    github.redeliveryOutcome = 0;
    github.add("down", 30 * MIN, 0);
    await start().runOnce();
    const file = join(dataDir, CATCHUP_FILE);
    const saved = JSON.parse(readFileSync(file, "utf8")) as { asked: Record<string, { at: string; outcome: string }> };
    expect(saved.asked.down).toMatchObject({ at: new Date(NOW).toISOString(), outcome: "requested", event: "push" });

    expect((await start().runOnce()).redelivered).toEqual([]);
    expect(github.redeliveries).toHaveLength(1);

    const otherDir = mkdtempSync(join(tmpdir(), "yaci-catch-up-"));
    try {
      expect((await start({ dataDir: otherDir }).runOnce()).redelivered).toEqual(["down"]);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it("prunes entries older than the window from the file", async () => {
    const file = join(dataDir, CATCHUP_FILE);
    const entry = (at: number) => ({ at: new Date(at).toISOString(), deliveryId: 1, event: "push", action: null, outcome: "requested" });
    writeFileSync(file, JSON.stringify({ version: 1, asked: { stale: entry(NOW - 25 * HOUR), fresh: entry(NOW - 23 * HOUR) } }));
    await start().runOnce();
    const saved = JSON.parse(readFileSync(file, "utf8")) as { asked: Record<string, unknown> };
    expect(Object.keys(saved.asked)).toEqual(["fresh"]);
  });

  it("starts a new record when the file is unreadable, with a warning", async () => {
    writeFileSync(join(dataDir, CATCHUP_FILE), "{ not json");
    github.add("down", 30 * MIN, 0);
    expect((await start().runOnce()).redelivered).toEqual(["down"]);
    expect(logs.some((l) => l.level === "warn" && l.msg.includes("could not read"))).toBe(true);
  });

  it("two overlapping calls share one pass", async () => {
    github.add("down", 30 * MIN, 0);
    const c = start();
    const [a, b] = await Promise.all([c.runOnce(), c.runOnce()]);
    expect(a).toBe(b);
    expect(github.redeliveries).toHaveLength(1);
  });
});

describe("catch-up: cap per pass", () => {
  it("asks for at most maxPerPass, logs how many remain, and takes the next oldest in the next pass", async () => {
    for (let i = 0; i < 5; i++) github.add(`g${i}`, (50 - i) * MIN, 0);
    const c = start({ maxPerPass: 2 });
    const first = await c.runOnce();
    expect(first).toMatchObject({ redelivered: ["g0", "g1"], remaining: 3 });
    expect(logs.find((l) => l.msg.includes("remain"))?.obj).toEqual({ remaining: 3 });
    expect((await c.runOnce()).redelivered).toEqual(["g2", "g3"]);
    expect(await c.runOnce()).toMatchObject({ redelivered: ["g4"], remaining: 0 });
  });
});

describe("catch-up: errors are logged, never thrown", () => {
  it("a 403 on listing is logged; the next pass tries again", async () => {
    github.add("down", 30 * MIN, 0);
    github.listError = { status: 403, message: "Resource not accessible by integration" };
    const c = start();
    const failed = await c.runOnce();
    expect(failed).toMatchObject({ redelivered: [], errors: 1, error: "Resource not accessible by integration" });
    expect(logs.find((l) => l.level === "error")).toMatchObject({ obj: { status: 403 }, msg: expect.stringContaining("refused to list") });
    github.listError = undefined;
    expect((await c.runOnce()).redelivered).toEqual(["down"]);
  });

  it("a failing octokit factory (no private key, GitHub down) is logged", async () => {
    const c = start({
      appOctokit: async () => {
        throw new Error("connect ECONNREFUSED");
      },
    });
    expect(await c.runOnce()).toMatchObject({ errors: 1, error: "connect ECONNREFUSED" });
    expect(logs.some((l) => l.level === "error" && l.msg.includes("listing webhook deliveries failed"))).toBe(true);
  });

  it("a 5xx on a redelivery is not recorded and is retried next pass; the others still go", async () => {
    github.add("a", 30 * MIN, 0);
    github.add("b", 20 * MIN, 0);
    github.redeliverErrors = [{ status: 502, message: "Bad Gateway" }];
    const c = start();
    const first = await c.runOnce();
    expect(first).toMatchObject({ redelivered: ["b"], errors: 1, remaining: 1 });
    expect(logs.some((l) => l.level === "warn" && l.obj.guid === "a" && l.obj.status === 502)).toBe(true);
    expect((await c.runOnce()).redelivered).toEqual(["a"]);
    expect(github.redeliveredGuids()).toEqual(["b", "a"]);
  });

  it("a 404 or 422 on a redelivery is final: recorded and not asked again", async () => {
    github.add("expired", 30 * MIN, 0);
    github.redeliverErrors = [{ status: 422, message: "Validation Failed" }];
    const c = start();
    expect(await c.runOnce()).toMatchObject({ redelivered: [], errors: 1, remaining: 0 });
    expect(await c.runOnce()).toMatchObject({ redelivered: [], alreadyAsked: 1, errors: 0 });
    const saved = JSON.parse(readFileSync(join(dataDir, CATCHUP_FILE), "utf8")) as { asked: Record<string, { outcome: string }> };
    expect(saved.asked.expired?.outcome).toBe("gone");
  });

  it("stops a pass after three failures in a row", async () => {
    for (let i = 0; i < 6; i++) github.add(`g${i}`, (50 - i) * MIN, 0);
    github.redeliverErrors = Array.from({ length: 3 }, () => ({ status: 503, message: "Service Unavailable" }));
    const c = start();
    const first = await c.runOnce();
    expect(first).toMatchObject({ redelivered: [], errors: 3, remaining: 6 });
    expect(first.error).toContain("3 redelivery requests failed in a row");
    expect((await c.runOnce()).redelivered).toEqual(["g0", "g1", "g2", "g3", "g4", "g5"]);
  });
});

describe("catch-up: schedule", () => {
  // Awaiting runOnce() right after the timer fired joins the pass the timer started (one pass at a
  // time), and the timer's own continuation (scheduling the next pass) runs before ours.
  it("runs first after firstDelayMs, then intervalMs after each pass; stop() ends it", async () => {
    const timer = new ManualTimer();
    github.add("down", 30 * MIN, 0);
    const c = start({ timer, firstDelayMs: 1234, intervalMs: 60_000 });
    expect(timer.pending.map((p) => p.ms)).toEqual([1234]);
    expect(github.listCalls).toHaveLength(0);
    timer.fire();
    await c.runOnce();
    expect(github.redeliveries).toHaveLength(1);
    expect(github.listCalls).toHaveLength(1);
    expect(timer.pending.map((p) => p.ms)).toEqual([60_000]);
    timer.fire();
    await c.runOnce();
    expect(github.listCalls).toHaveLength(2);
    expect(timer.pending.map((p) => p.ms)).toEqual([60_000]);
    c.stop();
    expect(timer.pending).toEqual([]);
  });

  it("keeps scheduling after a failed pass", async () => {
    const timer = new ManualTimer();
    github.listError = { status: 500, message: "boom" };
    const c = start({ timer, firstDelayMs: 0 });
    timer.fire();
    await c.runOnce();
    expect(github.listCalls).toHaveLength(1);
    expect(logs.some((l) => l.level === "error")).toBe(true);
    expect(timer.pending.map((p) => p.ms)).toEqual([10 * MIN]);
  });
});

describe("catch-up against @octokit/rest (nock)", () => {
  it("sends per_page and the cursor from the Link header, and POSTs the attempts of the right delivery", async () => {
    const api = "https://api.github.com";
    const iso = (ageMs: number) => new Date(Date.now() - ageMs).toISOString();
    const delivery = (id: number, guid: string, status_code: number, ageMs: number) => ({
      id,
      guid,
      delivered_at: iso(ageMs),
      redelivery: false,
      duration: 0.2,
      status: status_code === 200 ? "OK" : "failed",
      status_code,
      event: "push",
      action: null,
      installation_id: 7,
      repository_id: 8,
    });
    const scope = nock(api)
      .get("/app/hook/deliveries")
      .query({ per_page: "100" })
      .reply(200, [delivery(12, "new-ok", 200, MIN), delivery(11, "failed-guid", 0, 2 * MIN)], {
        link: `<${api}/app/hook/deliveries?per_page=100&cursor=v1_10>; rel="next"`,
      })
      .get("/app/hook/deliveries")
      .query({ per_page: "100", cursor: "v1_10" })
      .reply(200, [delivery(10, "older-failed", 500, 3 * MIN)])
      .post("/app/hook/deliveries/10/attempts")
      .reply(202, {})
      .post("/app/hook/deliveries/11/attempts")
      .reply(202, {});
    const octokit = new Octokit({ auth: "jwt-for-test" });
    const c = start({ appOctokit: async () => octokit, now: () => new Date() });
    const result = await c.runOnce();
    expect(result.redelivered).toEqual(["older-failed", "failed-guid"]);
    expect(scope.isDone()).toBe(true);
  });
});

describe("nextCursor", () => {
  it("reads the cursor of rel=next and nothing else", () => {
    const link = '<https://api.github.com/app/hook/deliveries?per_page=2&cursor=v1_5>; rel="next", <https://api.github.com/app/hook/deliveries?per_page=2>; rel="first"';
    expect(nextCursor(link)).toBe("v1_5");
    expect(nextCursor('<https://api.github.com/app/hook/deliveries?per_page=2>; rel="first"')).toBeUndefined();
    expect(nextCursor(undefined)).toBeUndefined();
  });
});

describe("catchUpOptionsFromEnv", () => {
  it("defaults: every 10 minutes, 24 hours back, first pass after 5 seconds", () => {
    expect(catchUpOptionsFromEnv({})).toEqual({ intervalMs: 10 * MIN, windowMs: 24 * HOUR, firstDelayMs: 5000 });
  });
  it("reads the variables", () => {
    expect(catchUpOptionsFromEnv({ YACI_CATCHUP_INTERVAL: "30s", YACI_CATCHUP_WINDOW: "3d", YACI_CATCHUP_FIRST_DELAY: "0" })).toEqual({
      intervalMs: 30_000,
      windowMs: 72 * HOUR,
      firstDelayMs: 0,
    });
  });
  it.each(["0", "off", "OFF", "0s", "false"])("YACI_CATCHUP_INTERVAL=%s turns catch-up off", (v) => {
    expect(catchUpOptionsFromEnv({ YACI_CATCHUP_INTERVAL: v })).toBeNull();
  });
  it("names the variable in the error for a bad value", () => {
    expect(() => catchUpOptionsFromEnv({ YACI_CATCHUP_WINDOW: "a day" })).toThrow(/YACI_CATCHUP_WINDOW/);
    expect(() => catchUpOptionsFromEnv({ YACI_CATCHUP_INTERVAL: "10" })).toThrow(/YACI_CATCHUP_INTERVAL/);
  });
});

describe("the record file", () => {
  it("is not written when nothing was asked", async () => {
    github.add("ok", MIN, 200);
    await start().runOnce();
    expect(existsSync(join(dataDir, CATCHUP_FILE))).toBe(false);
  });
});
