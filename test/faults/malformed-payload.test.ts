import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Probot, ProbotOctokit } from "probot";
import { pino } from "pino";
import examples from "@octokit/webhooks-examples";
import { createApp } from "../../src/app.js";
import type { Deps } from "../../src/deps.js";
import { FakeExecutor } from "../fakes/fake-executor.js";
import { TEST_PRIVATE_KEY } from "../support/test-app-keys.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const all = examples as unknown as { name: string; examples: Any[] }[];
const example = (name: string, pick: (p: Any) => boolean) => ({ ...structuredClone(all.find((e) => e.name === name)!.examples.find(pick)), installation: { id: 2 } });

let dataDir: string;
let probot: Probot;
let deps: Deps;
let fake: FakeExecutor;
let lines: Array<{ msg: string; reason?: string; level: number }>;

beforeEach(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "yaci-malformed-"));
  lines = [];
  const log = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  fake = new FakeExecutor();
  probot = new Probot({
    appId: 1,
    privateKey: TEST_PRIVATE_KEY,
    secret: "webhook-secret",
    log,
    Octokit: ProbotOctokit.defaults((o: Any) => ({ ...o, retry: { enabled: false }, throttle: { ...o.throttle, enabled: false } })),
  });
  await probot.load(
    createApp({ YACI_DATA_DIR: dataDir, YACI_CATCHUP_INTERVAL: "off" }, { executor: fake }, (d) => (deps = d)),
    { cwd: process.cwd(), addHandler: () => {} },
  );
});

afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

const opened = () => example("pull_request", (p) => p.action === "opened");
const pushed = () => example("push", (p) => p.ref.startsWith("refs/heads/") && !p.deleted);

describe("signed but malformed payloads: acknowledged, skipped with one log line, never retried", () => {
  it.each([
    ["pull_request", "a null pull_request", () => ({ ...opened(), pull_request: null }), "pull_request"],
    ["pull_request", "a pull_request without head", () => { const p = opened(); delete p.pull_request.head; return p; }, "pull_request.head.sha"],
    ["pull_request", "a null repository", () => ({ ...opened(), repository: null }), "repository"],
    ["push", "a null repository", () => ({ ...pushed(), repository: null }), "repository"],
    ["push", "no after", () => { const p = pushed(); delete p.after; return p; }, "after"],
  ])("%s with %s", async (event, _what, payload, field) => {
    const id = `malformed-${event}-${field}`;
    // Before the fix, the handler threw a TypeError: Probot answered 500 and GitHub (or the catch-up) redelivered it.
    await expect(probot.receive({ id, name: event as "push", payload: payload() })).resolves.not.toThrow();
    const skipped = lines.filter((l) => l.msg === "event skipped");
    expect(skipped).toHaveLength(1);
    expect(skipped[0]!.reason).toBe(`malformed payload: ${field} is missing or not valid`);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]); // no error logged
    expect(fake.started).toEqual([]);
    expect(deps.store.list()).toEqual([]);
    // Handled: the same delivery again does nothing (no retry loop).
    await probot.receive({ id, name: event as "push", payload: payload() });
    expect(lines.filter((l) => l.msg === "event skipped")).toHaveLength(1);
  });
});
