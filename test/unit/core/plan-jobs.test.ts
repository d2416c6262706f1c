import { describe, expect, it } from "vitest";
import { planJobs } from "../../../src/config/branch-filter.js";
import { parseConfig } from "../../../src/config/parse-config.js";
import type { Trigger } from "../../../src/core/trigger.js";
import type { YaciConfig } from "../../../src/config/yaci-config.js";

const config = (text: string): YaciConfig => {
  const r = parseConfig(text);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.config;
};
const t = (event: Trigger["event"], branch: string): Trigger => ({ event, installationId: 1, owner: "o", repo: "r", sha: "a".repeat(40), ref: `refs/heads/${branch}`, branch });
const FILTERED = 'on:\n  push: { branches: [main, "release/*"] }\n  pull_request: { branches: [main] }\njobs:\n  test:\n    run: "true"\n';

describe("planJobs (the on: filters)", () => {
  it.each([
    ["no on: → every push", "run: x\n", t("push", "feature/x"), 1],
    ["no on: → every pull request", "run: x\n", t("pull_request", "anything"), 1],
    ["push to main", FILTERED, t("push", "main"), 1],
    ["push to a release branch", FILTERED, t("push", "release/1.2"), 1],
    ["push to a feature branch", FILTERED, t("push", "feature/x"), 0],
    ["pull request into main", FILTERED, t("pull_request", "main"), 1],
    ["pull request into a release branch", FILTERED, t("pull_request", "release/1.2"), 0],
    ["an event not listed", "on: [push]\nrun: x\n", t("pull_request", "main"), 0],
  ])("%s", (_name, text, trigger, n) => {
    expect(planJobs(trigger, config(text))).toHaveLength(n);
  });
});
