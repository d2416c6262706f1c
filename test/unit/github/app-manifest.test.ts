import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { OPENAPI_FILE } from "../../support/openapi.js";

/**
 * GitHub delivers an event to an app only when its manifest grants the permission that GitHub's
 * own webhook description names ("To subscribe to this event, a GitHub App must have at least
 * read-level access for the "Issues" repository permission"). A stand-in does not show this, so
 * app.yml is checked against GitHub's OpenAPI description of every event YACI handles.
 */
const ROOT = new URL("../../../", import.meta.url).pathname;
const manifest = parse(readFileSync(join(ROOT, "app.yml"), "utf8")) as {
  default_events: string[];
  default_permissions: Record<string, "read" | "write">;
};

/** Every `app.on("event.action")` / `app.on(["…", "…"])` in src/github. */
function handledEvents(): string[] {
  const dir = join(ROOT, "src/github");
  const out = new Set<string>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".ts"))) {
    const text = readFileSync(join(dir, f), "utf8");
    for (const m of text.matchAll(/\bapp\.on\(\s*(\[[^\]]*\]|"[^"]*")/g)) {
      for (const s of m[1]!.matchAll(/"([a-z_]+(?:\.[a-z_]+)?)"/g)) out.add(s[1]!);
    }
  }
  return [...out].sort();
}

let webhooks: Record<string, { post: { summary: string } }> | undefined;
function webhookSummary(event: string): string {
  webhooks ??= (JSON.parse(readFileSync(createRequire(import.meta.url).resolve(OPENAPI_FILE), "utf8")) as { "x-webhooks": typeof webhooks })["x-webhooks"]!;
  const key = event.replace(/[._]/g, "-");
  const hook = webhooks[key];
  if (!hook) throw new Error(`GitHub's OpenAPI description has no webhook ${key}`);
  return hook.post.summary;
}

/** "Pull requests" → pull_requests, as app.yml names permissions. */
const permissionKey = (name: string) => name.toLowerCase().replace(/ /g, "_");

const LEVEL = { read: 1, write: 2 } as const;

describe("app.yml grants what each handled webhook needs", () => {
  const events = handledEvents();

  it("finds the events YACI handles in its source", () => {
    expect(events).toEqual(
      expect.arrayContaining(["push", "pull_request.opened", "issue_comment.created", "check_run.rerequested", "check_suite.rerequested", "check_run.requested_action"]),
    );
  });

  it.each(handledEvents())("%s: subscribed, with the permission GitHub's description names", (event) => {
    expect(manifest.default_events).toContain(event.split(".")[0]);
    const needs = [...webhookSummary(event).matchAll(/at least (read|write)-level access for the "([^"]+)"/g)];
    expect(needs.length).toBeGreaterThan(0);
    for (const [, level, name] of needs) {
      const granted = manifest.default_permissions[permissionKey(name!)];
      expect(granted, `${event} needs ${level} on ${name}`).toBeDefined();
      expect(LEVEL[granted!]).toBeGreaterThanOrEqual(LEVEL[level as "read" | "write"]);
    }
  });
});
