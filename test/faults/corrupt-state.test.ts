import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RunStore } from "../../src/runs/run-store.js";
import { fakeRecord } from "../fakes/records.js";
import type { Logger } from "../../src/logger.js";

let dataDir: string;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "yaci-corrupt-"));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

function captureLog(): Logger & { lines: Array<{ level: string; msg: string; fields: Record<string, unknown> }> } {
  const lines: Array<{ level: string; msg: string; fields: Record<string, unknown> }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => void lines.push({ level, msg, fields });
  return { lines, info: at("info"), warn: at("warn"), error: at("error") };
}

const rec = (n: number, phase: "queued" | "completed" = "completed") =>
  fakeRecord({ phase, ...(phase === "completed" ? { conclusion: "success", outcome: "succeeded" } : {}) }, { id: `yaci-test-${n}`, key: { owner: "octo", repo: "hello", sha: `${n}`.padStart(40, "a"), job: "test" } });

describe("run records that cannot be read at start", () => {
  it("keeps every readable record, names each unreadable one, moves it to runs/corrupt/ and removes temporary leftovers", () => {
    const runs = join(dataDir, "runs");
    const first = new RunStore(dataDir);
    for (let i = 1; i <= 3; i++) first.put(rec(i));
    const good = readFileSync(join(runs, "yaci-test-2.json"), "utf8");
    // A record cut short (a disk that filled, a copy that stopped), garbage, a foreign JSON file,
    // a record whose id is not its name, and a write interrupted before its rename.
    writeFileSync(join(runs, "yaci-test-2.json"), good.slice(0, good.length / 2));
    writeFileSync(join(runs, "yaci-test-4.json"), Buffer.from([0, 1, 2, 0xff, 0xfe]));
    writeFileSync(join(runs, "yaci-test-5.json"), "[1,2,3]");
    writeFileSync(join(runs, "yaci-test-6.json"), JSON.stringify(rec(7)));
    writeFileSync(join(runs, "yaci-test-3.json.tmp"), "{\"spec\":");

    const log = captureLog();
    const store = new RunStore(dataDir, log);

    expect(store.list().map((r) => r.spec.id).sort()).toEqual(["yaci-test-1", "yaci-test-3"]);
    expect(store.get("yaci-test-3")).toEqual(rec(3));
    const named = log.lines.filter((l) => l.level === "error").map((l) => l.fields.file).sort();
    expect(named).toEqual(["yaci-test-2.json", "yaci-test-4.json", "yaci-test-5.json", "yaci-test-6.json"].map((n) => join(runs, n)));
    for (const l of log.lines) expect(l.msg).toMatch(/^run record yaci-test-\d\.json could not be read \(.+\): moved to .*corrupt/);
    expect(readdirSync(join(runs, "corrupt")).sort()).toEqual(["yaci-test-2.json", "yaci-test-4.json", "yaci-test-5.json", "yaci-test-6.json"]);
    expect(readFileSync(join(runs, "corrupt", "yaci-test-2.json"), "utf8")).toBe(good.slice(0, good.length / 2)); // kept for a person to look at
    expect(readdirSync(runs).sort()).toEqual(["corrupt", "yaci-test-1.json", "yaci-test-3.json"]);

    // The next start is clean: nothing more to name, the corrupt folder is left alone.
    const again = captureLog();
    expect(new RunStore(dataDir, again).list()).toHaveLength(2);
    expect(again.lines).toEqual([]);
  });

  it("a record that cannot be written (the disk is full) throws and leaves the previous version in place and in memory", () => {
    const store = new RunStore(dataDir);
    store.put(rec(1, "queued"));
    // A directory where the temporary file should go: the write fails like a full disk would.
    mkdirSync(join(dataDir, "runs", "yaci-test-1.json.tmp"));
    expect(() => store.put(rec(1))).toThrow();
    expect(store.get("yaci-test-1")!.phase).toBe("queued");
    rmSync(join(dataDir, "runs", "yaci-test-1.json.tmp"), { recursive: true });
    expect(new RunStore(dataDir).get("yaci-test-1")!.phase).toBe("queued");
    store.put(rec(1));
    expect(new RunStore(dataDir).get("yaci-test-1")!.phase).toBe("completed");
    expect(existsSync(join(dataDir, "runs", "yaci-test-1.json.tmp"))).toBe(false);
  });
});
