import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { classify, type ClassifyInput } from "../../src/executors/kubernetes/classify-pod.js";

const NOW = new Date("2026-01-01T12:00:00Z");
const CREATED = "2026-01-01T11:59:00Z";

function job(status: object = {}, over: Partial<V1Job> = {}): V1Job {
  return {
    metadata: { name: "yaci-x", creationTimestamp: CREATED as unknown as Date },
    spec: { activeDeadlineSeconds: 900, template: { spec: { containers: [{ name: "main", image: "node:22", resources: { limits: { memory: "1Gi" } } }] } } },
    status: status as V1Job["status"],
    ...over,
  };
}

/** Statuses as JSON (timestamps as strings, like watch events). */
function pod(status: object, over: { nodeName?: string; deletionTimestamp?: string } = {}): V1Pod {
  return {
    metadata: { name: "yaci-x-abcde", creationTimestamp: CREATED as unknown as Date, ...(over.deletionTimestamp ? { deletionTimestamp: over.deletionTimestamp as unknown as Date } : {}) },
    spec: {
      ...(over.nodeName !== undefined ? { nodeName: over.nodeName } : { nodeName: "node-1" }),
      initContainers: [{ name: "checkout", image: "alpine:3.20", resources: { limits: { memory: "256Mi" } } }],
      containers: [{ name: "main", image: "node:22", resources: { limits: { memory: "1Gi" } } }],
    },
    status: status as V1Pod["status"],
  };
}

const cond = (type: string, reason?: string, message?: string) => ({ type, status: "True", ...(reason ? { reason } : {}), ...(message ? { message } : {}) });
const mainTerminated = (exitCode: number, reason = exitCode ? "Error" : "Completed", message?: string) => ({
  containerStatuses: [
    { name: "main", image: "node:22", imageID: "", ready: false, restartCount: 0, state: { terminated: { exitCode, reason, startedAt: "2026-01-01T11:59:10Z", finishedAt: "2026-01-01T11:59:50Z", ...(message ? { message } : {}) } } },
  ],
});
const mainRunning = {
  phase: "Running",
  containerStatuses: [{ name: "main", image: "node:22", imageID: "", ready: true, restartCount: 0, state: { running: { startedAt: "2026-01-01T11:59:10Z" } } }],
};

function run(over: Partial<ClassifyInput>) {
  return classify({ runId: "yaci-x", now: NOW, pendingTimeoutMs: 10 * 60_000, imagePullGraceMs: 2 * 60_000, ...over } as ClassifyInput);
}

describe("classify (pure: Job + newest pod → observation)", () => {
  it("no pod yet: pending, rechecked at the pending timeout", () => {
    const c = run({ job: job() });
    expect(c).toEqual({ kind: "observe", observation: { runId: "yaci-x", phase: "pending" }, recheckAt: new Date("2026-01-01T12:09:00Z") });
  });

  it("running: from the earliest container start (the checkout counts)", () => {
    const p = pod({
      ...mainRunning,
      initContainerStatuses: [{ name: "checkout", image: "alpine", imageID: "", ready: false, restartCount: 0, state: { terminated: { exitCode: 0, startedAt: "2026-01-01T11:59:05Z" as unknown as Date } } }],
    });
    const c = run({ job: job(), pod: p });
    expect(c).toEqual({ kind: "observe", observation: { runId: "yaci-x", phase: "running", startedAt: new Date("2026-01-01T11:59:05Z") } });
  });

  it("Complete → succeeded, exit 0, log of main", () => {
    const c = run({ job: job({ conditions: [cond("Complete")], completionTime: "2026-01-01T11:59:51Z" as unknown as Date }), pod: pod({ phase: "Succeeded", ...mainTerminated(0) }) });
    expect(c).toMatchObject({
      kind: "finish",
      deleteJob: false,
      podLagging: false,
      log: { pod: "yaci-x-abcde", container: "main" },
      observation: { phase: "finished", outcome: "succeeded", exitCode: 0, finishedAt: new Date("2026-01-01T11:59:51Z") },
    });
  });

  it("Complete while the pod still looks alive: podLagging (its final status is on the other stream)", () => {
    const c = run({ job: job({ conditions: [cond("Complete")] }), pod: pod(mainRunning) });
    expect(c).toMatchObject({ kind: "finish", podLagging: true });
  });

  it("Failed before its pod was seen at all: podLagging too (the pod's events are on the other stream)", () => {
    const c = run({ job: job({ conditions: [cond("Failed", "BackoffLimitExceeded")], failed: 1 }) });
    expect(c).toMatchObject({ kind: "finish", podLagging: true });
    const gone = run({ job: job({ conditions: [cond("Failed", "BackoffLimitExceeded")], failed: 1 }), podGone: true });
    expect(gone).toMatchObject({ kind: "finish", podLagging: false });
  });

  it("Failed / BackoffLimitExceeded → failed with the exit code", () => {
    const c = run({ job: job({ conditions: [cond("Failed", "BackoffLimitExceeded")] }), pod: pod({ phase: "Failed", ...mainTerminated(2) }) });
    expect(c).toMatchObject({ kind: "finish", observation: { outcome: "failed", exitCode: 2 } });
    expect(c.kind === "finish" && c.observation.message).toBeUndefined();
  });

  it("DeadlineExceeded (Failed or FailureTarget) → timed_out with the limit", () => {
    for (const type of ["Failed", "FailureTarget"]) {
      const c = run({ job: job({ conditions: [cond(type, "DeadlineExceeded", "Job was active longer than specified deadline")] }), pod: pod(mainRunning, { deletionTimestamp: "2026-01-01T12:00:00Z" }) });
      expect(c).toMatchObject({ kind: "finish", podLagging: false, observation: { outcome: "timed_out", message: "ran longer than its timeout of 15m" } });
    }
  });

  it("OOMKilled → 'out of memory (limit 1Gi)'", () => {
    const c = run({ job: job({ conditions: [cond("Failed", "BackoffLimitExceeded")] }), pod: pod({ phase: "Failed", ...mainTerminated(137, "OOMKilled") }) });
    expect(c).toMatchObject({ observation: { outcome: "failed", exitCode: 137, message: "out of memory (limit 1Gi)" } });
  });

  it("evicted, disrupted, deleted pods → failed with the reason", () => {
    const evicted = run({ job: job({ conditions: [cond("Failed", "BackoffLimitExceeded")] }), pod: pod({ phase: "Failed", reason: "Evicted", message: "The node was low on resource: ephemeral-storage." }) });
    expect(evicted).toMatchObject({ observation: { outcome: "failed", message: "evicted: The node was low on resource: ephemeral-storage." } });
    const drained = run({
      job: job({ conditions: [cond("Failed", "BackoffLimitExceeded")] }),
      pod: pod({ phase: "Failed", conditions: [cond("DisruptionTarget", "EvictionByEvictionAPI", "Eviction API: evicting")], ...mainTerminated(143) }),
    });
    expect(drained).toMatchObject({ observation: { outcome: "failed", exitCode: 143, message: "the pod was evicted: Eviction API: evicting" } });
    const gone = run({ job: job({ conditions: [cond("Failed", "BackoffLimitExceeded")] }), pod: pod(mainRunning), podGone: true });
    expect(gone).toMatchObject({ log: undefined, observation: { outcome: "failed", message: "the pod was deleted before it finished" } });
  });

  it("a failed checkout → 'checkout failed: …' (its log is the one to save), no exit code", () => {
    const c = run({
      job: job({ conditions: [cond("Failed", "BackoffLimitExceeded")] }),
      pod: pod({
        phase: "Failed",
        initContainerStatuses: [{ name: "checkout", image: "alpine", imageID: "", ready: false, restartCount: 0, state: { terminated: { exitCode: 1, reason: "Error", message: "yaci: could not download o/r" } } }],
      }),
    });
    expect(c).toMatchObject({ log: { container: "checkout" }, observation: { outcome: "failed", message: "checkout failed: yaci: could not download o/r" } });
    expect(c.kind === "finish" && c.observation.exitCode).toBeUndefined();
  });

  it("the Job gone without an end → cancelled", () => {
    const c = run({ job: job(), jobGone: true, pod: pod(mainRunning) });
    expect(c).toMatchObject({ kind: "finish", deleteJob: false, observation: { outcome: "cancelled", message: "the Kubernetes Job was deleted" } });
  });

  const TRANSIENT = 'failed to pull and unpack image "docker.io/library/node:22": failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/node/manifests/sha256:0a1b: 503 Service Unavailable';

  it("image pull errors that can pass: pending within the grace, then failed + delete the Job", () => {
    const waiting = (reason: string) =>
      pod({ phase: "Pending", containerStatuses: [{ name: "main", image: "node:22", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason, message: TRANSIENT } } }] });
    for (const reason of ["ErrImagePull", "ImagePullBackOff"]) {
      const within = run({ job: job(), pod: waiting(reason), imagePullErrorSince: new Date(NOW.getTime() - 60_000) });
      expect(within).toMatchObject({
        kind: "observe",
        observation: { phase: "pending", waitingReason: `image node:22: ${reason}` },
        recheckAt: new Date(NOW.getTime() + 60_000),
        imagePullError: { container: "main", image: "node:22", reason },
      });
      const past = run({ job: job(), pod: waiting(reason), imagePullErrorSince: new Date(NOW.getTime() - 120_000) });
      expect(past).toMatchObject({ kind: "finish", deleteJob: true, observation: { outcome: "failed", message: expect.stringMatching(new RegExp(`^image node:22 could not be pulled \\(${reason}: failed to pull and unpack`)) } });
    }
  });

  it.each([
    ["toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit"],
    ['rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/library/node:22": failed to resolve reference "docker.io/library/node:22": failed to do request: Head "https://registry-1.docker.io/v2/library/node/manifests/22": dial tcp 54.1.2.3:443: i/o timeout'],
    ['rpc error: code = Unknown desc = Error response from daemon: Get "https://registry.example/v2/": net/http: TLS handshake timeout'],
  ])("an error that can pass keeps the grace period: %s", (message) => {
    const p = pod({ phase: "Pending", containerStatuses: [{ name: "main", image: "node:22", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason: "ErrImagePull", message } } }] });
    expect(run({ job: job(), pod: p, imagePullErrorSince: NOW })).toMatchObject({ kind: "observe", recheckAt: new Date(NOW.getTime() + 120_000) });
  });

  // The kubelet's own words (containerd 1.7 / 2.x and dockershim), as `kubectl describe pod` shows them.
  it.each([
    [
      "ErrImagePull",
      'failed to pull and unpack image "docker.io/library/nosuchimage:latest": failed to resolve reference "docker.io/library/nosuchimage:latest": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed',
      "cannot be pulled: the registry denies access",
    ],
    [
      "ErrImagePull",
      'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/node:99": failed to resolve reference "docker.io/library/node:99": docker.io/library/node:99: not found',
      "does not exist in its registry",
    ],
    ["ErrImagePull", "rpc error: code = Unknown desc = Error response from daemon: manifest for node:99 not found: manifest unknown: manifest unknown", "does not exist in its registry"],
    ["ErrImagePull", "rpc error: code = Unknown desc = Error response from daemon: unauthorized: authentication required", "cannot be pulled: the registry denies access"],
    ["InvalidImageName", 'Failed to apply default image tag "Node:22": couldn\'t parse image name "Node:22": invalid reference format: repository name must be lowercase', "is not a valid image reference"],
  ])("%s that waiting cannot fix fails at once, naming the image: %s", (reason, message, why) => {
    const p = pod({ phase: "Pending", containerStatuses: [{ name: "main", image: "node:22", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason, message } } }] });
    const c = run({ job: job(), pod: p, imagePullErrorSince: NOW });
    expect(c).toMatchObject({ kind: "finish", deleteJob: true, observation: { outcome: "failed" } });
    const msg = c.kind === "finish" ? c.observation.message! : "";
    expect(msg.startsWith(`image node:22 ${why}`)).toBe(true);
    expect(msg).toContain(`(${reason}: `);
  });

  it("unschedulable: pending with the scheduler's message; past the pending timeout → failed + delete", () => {
    const p = pod({ phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/3 nodes are available: 3 Insufficient cpu." }] }, { nodeName: undefined });
    delete p.spec!.nodeName;
    const early = run({ job: job(), pod: p });
    expect(early).toMatchObject({ kind: "observe", observation: { phase: "pending", waitingReason: "unschedulable: 0/3 nodes are available: 3 Insufficient cpu." } });
    const late = run({ job: job(), pod: p, now: new Date("2026-01-01T12:09:01Z") });
    expect(late).toMatchObject({ kind: "finish", deleteJob: true, observation: { outcome: "failed", message: "waited more than 10m for a node: 0/3 nodes are available: 3 Insufficient cpu." } });
  });

  it("no pod at all past the pending timeout (quota, admission) → failed + delete, says where to look", () => {
    const c = run({ job: job(), now: new Date("2026-01-01T12:09:00Z") });
    expect(c).toMatchObject({
      kind: "finish",
      deleteJob: true,
      observation: { outcome: "failed", message: "no pod was created within 10m (a ResourceQuota, LimitRange or Pod Security admission may refuse it: kubectl describe job yaci-x)" },
    });
  });

  it("a scheduled pod waiting on its Secret shows the reason, and is not failed by the pending timeout", () => {
    const p = pod({
      phase: "Pending",
      initContainerStatuses: [{ name: "checkout", image: "alpine", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason: "CreateContainerConfigError", message: 'secret "yaci-x" not found' } } }],
    });
    const c = run({ job: job(), pod: p, now: new Date("2026-01-01T13:00:00Z") });
    expect(c).toEqual({ kind: "observe", observation: { runId: "yaci-x", phase: "pending", waitingReason: 'CreateContainerConfigError: secret "yaci-x" not found' } });
  });
});
