import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { TEST_APP_ID } from "./test-app-keys.js";
import type { WebhookEventMap, WebhookEventName } from "@octokit/webhooks-types";
import { request as httpRequest } from "node:http";

/** Real webhook payloads from `@octokit/webhooks-examples` (api.github.com/index.json). */
interface WebhookDefinition {
  name: string;
  actions: string[];
  examples: unknown[];
}

let definitions: WebhookDefinition[] | undefined;

function load(): WebhookDefinition[] {
  if (!definitions) {
    const file = createRequire(import.meta.url).resolve("@octokit/webhooks-examples");
    definitions = JSON.parse(readFileSync(file, "utf8")) as WebhookDefinition[];
  }
  return definitions;
}

/**
 * A deep copy of the first example payload of `event` that `pick` accepts
 * (e.g. `p => p.action === "opened"`). Throws when none matches.
 */
export function loadExample<E extends WebhookEventName>(
  event: E,
  pick: (payload: WebhookEventMap[E]) => boolean = () => true,
): WebhookEventMap[E] {
  const def = load().find((d) => d.name === event);
  if (!def) throw new Error(`@octokit/webhooks-examples has no "${event}" event`);
  const found = (def.examples as WebhookEventMap[E][]).find((p) => pick(p));
  if (!found) throw new Error(`no "${event}" example matches (${def.examples.length} examples)`);
  return structuredClone(found);
}

/** All example payloads of `event` (deep copies). */
export function allExamples<E extends WebhookEventName>(event: E): WebhookEventMap[E][] {
  const def = load().find((d) => d.name === event);
  return structuredClone((def?.examples ?? []) as WebhookEventMap[E][]);
}

/** A copy of `payload` with `installation: { id, node_id }`, as GitHub sends to an app. */
export function withInstallation<T extends object>(payload: T, id: number): T & { installation: { id: number; node_id: string } } {
  return { ...structuredClone(payload), installation: { id, node_id: Buffer.from(`Installation${id}`).toString("base64") } };
}

/** `X-Hub-Signature-256` value: `sha256=` + hex HMAC-SHA256 of the exact body bytes. */
export function sign(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export interface SendWebhookOptions {
  event: string;
  payload: unknown;
  secret: string;
  /** `X-GitHub-Delivery`; a random UUID unless given (a redelivery reuses the original one). */
  deliveryId?: string;
  /** Sign with a wrong secret. */
  badSignature?: boolean;
  /** GitHub gives up after 10 s; the promise rejects then. */
  timeoutMs?: number;
}

/**
 * POSTs a webhook delivery the way GitHub does and returns the HTTP status of the answer. Each
 * delivery opens its own connection (no keep-alive), as GitHub's deliveries do: a reused idle
 * socket that the server closes just as the next request goes out would fail the send for a
 * reason that has nothing to do with the app.
 */
export function sendWebhook(url: string, opts: SendWebhookOptions): Promise<number> {
  const body = JSON.stringify(opts.payload);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: "POST", agent: false, headers: { ...webhookHeaders(body, opts), "content-length": String(Buffer.byteLength(body)) } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", reject);
    });
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error(`no answer within ${opts.timeoutMs ?? 10_000} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** The headers of a GitHub webhook delivery for `body`. */
export function webhookHeaders(body: string, opts: Omit<SendWebhookOptions, "payload">): Record<string, string> {
  return {
    "content-type": "application/json",
    "user-agent": "GitHub-Hookshot/yaci-test",
    "x-github-event": opts.event,
    "x-github-delivery": opts.deliveryId ?? randomUUID(),
    "x-github-hook-id": "1",
    "x-github-hook-installation-target-type": "integration",
    "x-github-hook-installation-target-id": String(TEST_APP_ID),
    "x-hub-signature-256": sign(body, opts.badSignature ? `${opts.secret}-wrong` : opts.secret),
  };
}
