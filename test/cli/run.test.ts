import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startYaci, yaci } from "./yaci-process.js";

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A working copy holding `.yaci.yml` and the given files. */
function workingCopy(config: string, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "yaci-cli-run-"));
  roots.push(dir);
  writeFileSync(join(dir, ".yaci.yml"), config);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const TWO_JOBS = `jobs:
  ok:
    run: |
      echo "hello from $YACI_JOB"
      cat data.txt
  broken:
    run: |
      echo "about to fail" >&2
      exit 3
`;

/** Pids whose environment holds `marker` (zombies have none: they are gone but for their exit status). */
function processesWith(marker: string): number[] {
  const needle = Buffer.from(marker);
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/environ`).includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe.each(["required", "off"] as const)("yaci run (YACI_LOCAL_SANDBOX=%s)", (sandbox) => {
  const env = { YACI_LOCAL_SANDBOX: sandbox };

  it("follows needs: a job starts after the jobs it needs succeeded, and is skipped when one failed", async () => {
    const dir = workingCopy(`jobs:
  first:
    run: sleep 1; echo "first-end $(date +%s%N)"
  second:
    needs: first
    run: echo "second-start $(date +%s%N)"
  broken:
    run: exit 4
  after-broken:
    needs: broken
    run: echo must not run
`);
    const r = await yaci(["run", "--dir", dir], { env });
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stdout.split("\n");
    const at = (what: string) => BigInt(/(\d+)$/.exec(lines.find((l) => l.includes(what)) ?? "")?.[1] ?? "-1");
    expect(at("first-end")).toBeGreaterThan(0n);
    expect(at("second-start")).toBeGreaterThanOrEqual(at("first-end"));
    expect(r.stdout).not.toContain("must not run");
    // The table's row (the job's own line says why).
    expect(lines.filter((l) => /^after-broken\s+skipped\s+-$/.test(l))).toHaveLength(1);
    expect(r.stdout).toContain("skipped: `broken` failed");
  });

  it("runs every job of the working copy, prefixes their output, prints a table and exits 1 when one fails", async () => {
    const dir = workingCopy(TWO_JOBS, { "data.txt": "data from the working copy\n" });
    const r = await yaci(["run", "--dir", dir], { env });
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stdout.split("\n");
    expect(lines).toContain("ok     | hello from ok");
    expect(lines).toContain("ok     | data from the working copy");
    expect(lines).toContain("broken | about to fail");
    expect(lines).toContainEqual(expect.stringMatching(/^ok {5}\| succeeded in \d/));
    expect(lines).toContainEqual(expect.stringMatching(/^broken \| failed \(exit 3\) in \d/));
    const table = r.stdout.slice(r.stdout.lastIndexOf("\njob "));
    expect(table).toMatch(/\njob +result +duration\nok +succeeded +\d[\d.]*m?s\nbroken +failed \(exit 3\) +\d[\d.]*m?s\n$/);
    expect(r.stderr).toContain("1 of 2 jobs succeeded");
    expect(r.stdout).not.toContain("\u001b[");
  });

  it("runs only the jobs named, whatever `on:` says, and exits 0 when they pass", async () => {
    const dir = workingCopy(`on: pull_request\n${TWO_JOBS}`, { "data.txt": "x\n" });
    const r = await yaci(["run", "ok", "--dir", dir], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("ok | hello from ok");
    expect(r.stdout).not.toContain("broken");
    expect(r.stdout).toMatch(/\njob +result +duration\nok +succeeded +\S+\n$/);
  });

  it("stops every job on Ctrl-C (SIGINT): no process of theirs is left, exit 130", async () => {
    const marker = `YACI_TEST_MARKER=${randomUUID()}`;
    const dir = workingCopy(`jobs:
  one:
    run: |
      sleep 300 &
      echo started one
      sleep 300
  two:
    run: |
      sh -c 'sleep 300' &
      echo started two
      wait
`);
    const p = startYaci(["run", "--dir", dir, "--env", marker], { env });
    await p.waitForStdout("started one");
    await p.waitForStdout("started two");
    expect(processesWith(marker).length).toBeGreaterThanOrEqual(4); // both shells and their sleeps
    p.child.kill("SIGINT");
    const r = await p.result;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain("stopping every job");
    expect(r.stdout).toMatch(/\njob +result +duration\none +cancelled +\S+\ntwo +cancelled +\S+\n$/);
    expect(processesWith(marker)).toEqual([]);
  });
});

describe("yaci run", () => {
  const env = { YACI_LOCAL_SANDBOX: "required" };

  it("gives the values of --secret-file to the jobs and masks them in the output; --env adds variables", async () => {
    const dir = workingCopy(`run: |\n  echo "token=$API_TOKEN"\n  echo "mode=$MODE"\n  echo "gh=ghp_abcdefghijklmnopqrstuvwxyz0123456789"\n`);
    const secrets = join(dir, "..", `${randomUUID()}.env`);
    writeFileSync(secrets, "# a comment\nAPI_TOKEN=s3cr3t-value-42\n");
    roots.push(secrets);
    const r = await yaci(["run", "--dir", dir, "--secret-file", secrets, "--env", "MODE=fast"], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("build | token=***\n");
    expect(r.stdout).toContain("build | mode=fast\n");
    expect(r.stdout).toContain("build | gh=***\n");
    expect(r.stdout + r.stderr).not.toContain("s3cr3t-value-42");
  });

  it("works on a copy: the job sees the files but not .git, and changes nothing in the working copy", async () => {
    const dir = workingCopy("run: |\n  cat src/a.txt\n  test ! -e .git && echo no-git\n  echo changed > src/a.txt\n", { "src/a.txt": "original\n", ".git/HEAD": "ref: refs/heads/main\n" });
    const r = await yaci(["run", "--dir", dir], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("build | original\nbuild | no-git\n");
    expect(readFileSync(join(dir, "src/a.txt"), "utf8")).toBe("original\n");
  });

  it("runs nothing for an event `on:` leaves out, exit 0", async () => {
    const dir = workingCopy("on: push\nrun: echo should-not-run\n");
    const r = await yaci(["run", "--dir", dir, "--event", "pull_request"], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("no job runs on pull_request");
    expect(r.stdout).not.toContain("should-not-run");
  });

  it("reports a broken .yaci.yml like validate does, exit 1; an unknown job is a usage error, exit 2", async () => {
    const dir = workingCopy("run: x\ntimeout: 15\n");
    const r = await yaci(["run"], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^\.yaci\.yml:2:10: error: /);
    const ok = workingCopy("run: x\n");
    const u = await yaci(["run", "nope"], { cwd: ok, env });
    expect(u.code).toBe(2);
    expect(u.stderr).toContain(".yaci.yml has no job 'nope'; its jobs: build");
    expect(existsSync(join(ok, ".yaci"))).toBe(false); // it leaves nothing in the working copy
  });
});
