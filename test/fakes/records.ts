import type { RunRecord, RunSpec } from "../../src/core/run.js";

export function fakeSpec(over: Partial<RunSpec> = {}): RunSpec {
  return {
    id: "yaci-test-abc1234-0123456789-1",
    key: { owner: "octo", repo: "hello", sha: "abc1234def5678abc1234def5678abc1234def56", job: "test" },
    attempt: 1,
    event: "push",
    installationId: 42,
    ref: "refs/heads/main",
    image: "node:22-alpine",
    run: "npm test",
    timeoutMs: 5 * 60_000,
    env: {},
    checkout: true,
    ...over,
  };
}

export function fakeRecord(over: Partial<RunRecord> = {}, spec: Partial<RunSpec> = {}): RunRecord {
  return { spec: fakeSpec(spec), executor: "local", phase: "queued", createdAt: "2026-11-29T10:00:00.000Z", ...over };
}
