import { describe, expect, it } from "vitest";
import { checkTitle, toCheckRunUpdate, reportedStateOf, sameReportedState } from "../../../src/core/check-update.js";
import { fakeRecord } from "../../fakes/records.js";

const t0 = "2026-11-29T10:00:00.000Z";
const plus = (s: number) => new Date(Date.parse(t0) + s * 1000).toISOString();

describe("checkTitle", () => {
  it.each([
    ["queued", fakeRecord(), "Queued"],
    ["waiting", fakeRecord({ waitingReason: "0/3 nodes are available" }), "Waiting: 0/3 nodes are available"],
    ["running", fakeRecord({ phase: "in_progress", startedAt: t0 }), "Running"],
    ["passed", fakeRecord({ phase: "completed", conclusion: "success", startedAt: t0, finishedAt: plus(12) }), "Passed in 12s"],
    [
      "failed with exit code",
      fakeRecord({ phase: "completed", conclusion: "failure", exitCode: 2, startedAt: t0, finishedAt: plus(41) }),
      "Failed: exit code 2 after 41s",
    ],
    [
      "failed with a reason",
      fakeRecord({ phase: "completed", conclusion: "failure", message: "out of memory (limit 1Gi)", startedAt: t0, finishedAt: plus(3) }),
      "Failed: out of memory (limit 1Gi)",
    ],
    ["timed out", fakeRecord({ phase: "completed", conclusion: "timed_out", startedAt: t0, finishedAt: plus(300) }), "Timed out after 5m"],
    ["cancelled", fakeRecord({ phase: "completed", conclusion: "cancelled", startedAt: t0, finishedAt: plus(65) }), "Cancelled after 1m 5s"],
    ["config error", fakeRecord({ phase: "completed", conclusion: "failure" }, { notice: { title: "Invalid .yaci.yml", summary: "line 3" } }), "Invalid .yaci.yml"],
    [
      "superseded",
      fakeRecord({ phase: "completed", conclusion: "cancelled", cancelReason: "superseded by 1234abc", startedAt: t0, finishedAt: plus(5) }),
      "Cancelled: superseded by 1234abc",
    ],
    [
      "approval needed",
      fakeRecord({ phase: "completed", conclusion: "action_required" }, { notice: { title: "Waiting for approval", summary: "s", detailsUrl: "https://x" } }),
      "Waiting for approval",
    ],
  ])("%s", (_name, record, title) => {
    expect(checkTitle(record)).toBe(title);
  });
});

describe("toCheckRunUpdate", () => {
  it("maps a queued run to a queued check run named after the job, with the run id as external_id", () => {
    const u = toCheckRunUpdate(fakeRecord(), "kubernetes", { cancelButton: true });
    expect(u).toMatchObject({ name: "test", status: "queued", externalId: "yaci-test-abc1234-0123456789-1", headSha: fakeRecord().spec.key.sha });
    expect(u.conclusion).toBeUndefined();
    expect(u.actions).toEqual([{ label: "Cancel", description: "Stop this job", identifier: "cancel" }]);
    expect(u.summary).toContain("`node:22-alpine`");
    expect(u.summary).toContain("kubernetes");
  });

  it("says the local executor does not use the image", () => {
    expect(toCheckRunUpdate(fakeRecord(), "local").summary).toMatch(/not used: the local executor/);
  });

  it("completes with conclusion, timestamps, exit code in the summary and the log as text", () => {
    const r = fakeRecord({ phase: "completed", conclusion: "failure", exitCode: 2, startedAt: t0, finishedAt: plus(41) });
    const u = toCheckRunUpdate(r, "local", { logText: "```text\nboom\n```\n", cancelButton: true });
    expect(u).toMatchObject({ status: "completed", conclusion: "failure", startedAt: t0, completedAt: plus(41), text: "```text\nboom\n```\n" });
    expect(u.actions).toBeUndefined();
    expect(u.summary).toContain("| Exit code | 2 |");
    expect(u.summary).toContain("| Duration | 41s |");
    expect(u.summary).toContain("`abc1234` (main)");
  });

  it("names who cancelled a run", () => {
    const r = fakeRecord({ phase: "completed", conclusion: "cancelled", cancelReason: "requested by @octocat", startedAt: t0, finishedAt: plus(2) });
    expect(toCheckRunUpdate(r, "local").summary).toContain("**Cancelled:** requested by @octocat");
  });

  it("a notice links its own details URL (GitHub requires one for action_required)", () => {
    const r = fakeRecord({ phase: "completed", conclusion: "action_required" }, { notice: { title: "t", summary: "s", detailsUrl: "https://github.com/o/r/pull/1" } });
    expect(toCheckRunUpdate(r, "local", { detailsUrl: "https://yaci/runs/x" }).detailsUrl).toBe("https://github.com/o/r/pull/1");
  });

  it("a config error's summary is the formatted error", () => {
    const r = fakeRecord({ phase: "completed", conclusion: "failure" }, { notice: { title: "Invalid .yaci.yml", summary: "**line 3, column 5**: bad" } });
    expect(toCheckRunUpdate(r, "local").summary).toBe("**line 3, column 5**: bad");
  });
});

describe("reported state", () => {
  it("is equal for equal updates and differs when the phase or details change", () => {
    const a = reportedStateOf(toCheckRunUpdate(fakeRecord(), "local"));
    expect(sameReportedState(a, reportedStateOf(toCheckRunUpdate(fakeRecord(), "local")))).toBe(true);
    expect(sameReportedState(a, reportedStateOf(toCheckRunUpdate(fakeRecord({ phase: "in_progress", startedAt: t0 }), "local")))).toBe(false);
    expect(sameReportedState(a, reportedStateOf(toCheckRunUpdate(fakeRecord({ waitingReason: "unschedulable" }), "local")))).toBe(false);
    expect(sameReportedState(undefined, a)).toBe(false);
  });
});

describe("the summary of a run whose secrets were withheld (issue 14)", () => {
  it("says which secrets were not given, and why; nothing when they were given", () => {
    const withheld = toCheckRunUpdate(fakeRecord({ phase: "completed", conclusion: "success" }, { secrets: ["NPM_TOKEN", "DEPLOY_KEY"], secretsWithheld: "this pull request comes from a fork" }), "local");
    expect(withheld.summary).toContain("**Secrets:** not given (this pull request comes from a fork): `NPM_TOKEN`, `DEPLOY_KEY`");
    const given = toCheckRunUpdate(fakeRecord({ phase: "completed", conclusion: "success" }, { secrets: ["NPM_TOKEN"] }), "local");
    expect(given.summary).not.toContain("Secrets");
  });
});
