import { describe, expect, it } from "vitest";
import examples from "@octokit/webhooks-examples";
import { isSkip, triggerFromPullRequest, triggerFromPush, type Trigger } from "../../../src/core/trigger.js";
import { runId, runIdIn, MAX_RUN_ID_LENGTH } from "../../../src/core/run-id.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const all = examples as unknown as { name: string; examples: Any[] }[];
const of = (name: string) => all.find((e) => e.name === name)!.examples;
const push = () => structuredClone(of("push").find((p) => p.ref.startsWith("refs/heads/") && !p.deleted && p.installation));
const opened = () => ({ ...structuredClone(of("pull_request").find((p) => p.action === "opened")), installation: { id: 7 } });

describe("triggerFromPush", () => {
  it("takes the pushed branch's head commit from GitHub's example payload", () => {
    const p = push();
    const t = triggerFromPush(p) as Trigger;
    expect(t).toMatchObject({ event: "push", sha: p.after, ref: p.ref, branch: p.ref.slice(11), installationId: p.installation.id });
    expect(t.owner).toBe(p.repository.owner.login);
  });

  it.each([
    ["a deleted branch", (p: Any) => Object.assign(p, { deleted: true, after: "0".repeat(40) }), "branch deleted"],
    ["an all-zero after", (p: Any) => Object.assign(p, { after: "0".repeat(40) }), "branch deleted"],
    ["a tag", (p: Any) => Object.assign(p, { ref: "refs/tags/v1.0.0" }), "not a branch push (refs/tags/v1.0.0)"],
    ["no installation", (p: Any) => Object.assign(p, { installation: undefined }), "no installation in the payload"],
  ])("skips %s", (_n, change, reason) => {
    const t = triggerFromPush(change(push()));
    expect(isSkip(t) && t.skip).toBe(reason);
  });
});

describe("triggerFromPullRequest", () => {
  it("takes the pull request's head SHA, filters on the base branch", () => {
    const p = opened();
    expect(triggerFromPullRequest(p)).toMatchObject({
      event: "pull_request",
      sha: p.pull_request.head.sha,
      branch: p.pull_request.base.ref,
      ref: `refs/pull/${p.number}/head`,
      prNumber: p.number,
      fromFork: false,
    });
  });

  it("flags a fork", () => {
    const p = opened();
    p.pull_request.head.repo.full_name = "mallory/Hello-World";
    expect((triggerFromPullRequest(p) as Trigger).fromFork).toBe(true);
  });

  it.each(["closed", "labeled", "edited"])("skips action %s", (action) => {
    expect(isSkip(triggerFromPullRequest({ ...opened(), action }))).toBe(true);
  });
});

describe("runId", () => {
  const key = { owner: "Octo", repo: "hello", sha: "ABCDEF1234567890abcdef1234567890abcdef12", job: "Build & Test (Node 22) with a very long job name indeed" };
  it("is deterministic, a valid Kubernetes name, and short enough for pod suffixes", () => {
    const id = runId(key, 1);
    // Worked out by hand: the job's slug cut to 24, the short SHA in lower case, the first 10 hex
    // digits of sha256("Octo/hello@ABCDEF…12#Build & Test (Node 22) with a very long job name indeed")
    // (`printf %s '…' | sha256sum`), the attempt. A Job name must stay the same across releases.
    expect(id).toBe("yaci-build-test-node-22-with-abcdef1-04da7451ec-1");
    expect(id).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(id.length).toBeLessThanOrEqual(MAX_RUN_ID_LENGTH);
    expect(id).toContain("abcdef1");
  });
  it("differs per attempt, job, commit and repository", () => {
    const ids = new Set([
      runId(key, 1),
      runId(key, 2),
      runId({ ...key, job: "lint" }, 1),
      runId({ ...key, sha: "1".repeat(40) }, 1),
      runId({ ...key, repo: "other" }, 1),
    ]);
    expect(ids.size).toBe(5);
  });
});

describe("runIdIn", () => {
  const id = runId({ owner: "o", repo: "r", sha: "abcdef1234567890abcdef1234567890abcdef12", job: "unit-tests" }, 3);
  it.each([
    [`kubernetes: created Job ${id} in yaci-jobs`, id],
    [`kubernetes: ${id} finished: failed (exit code 2)`, id],
    ["kubernetes: deleted Job yaci-run-730cdd63-cefb-44f2-b760-cde00c24a35e", "yaci-run-730cdd63-cefb-44f2-b760-cde00c24a35e"],
    ['kubernetes: jobs go to namespace "yaci-jobs" on https://k8s (kubeconfig)', undefined],
  ])("%s", (text, expected) => expect(runIdIn(text)).toBe(expected));
});
