import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { MIN_SECRET_LENGTH } from "../http/env.js";
import { sendError, sendJson } from "../http/respond.js";
import type { Logger } from "../logger.js";
import { deliveryHash, type DeliveryLog } from "../runs/delivery-log.js";
import type { Inbox } from "../runs/inbox.js";

/** GitHub caps webhook payloads at 25 MB; anything bigger is not from GitHub. */
export const MAX_WEBHOOK_BYTES = 25 * 1024 * 1024;
/** Bodies being read and not yet verified, all requests together; past it new ones wait (503). */
export const MAX_UNVERIFIED_BYTES = 100 * 1024 * 1024;
export const DEFAULT_WEBHOOK_PATH = "/api/github/webhooks";

/** Where webhooks arrive, and the secret that signs them (from the environment). */
export interface IntakeSettings {
  /** WEBHOOK_PATH: the path GitHub posts to (default /api/github/webhooks). */
  path: string;
  /** WEBHOOK_SECRET */
  secret: string;
  /**
   * The path Probot's own webhook middleware is given instead: random per process and never
   * published, so nothing reaches that middleware (which reads whole bodies before verifying them).
   */
  internalPath: string;
}

/**
 * The intake's settings, or undefined when the app is not registered yet (no APP_ID: Probot serves
 * its setup page and no webhooks). Throws, naming the variable, when WEBHOOK_SECRET is missing or
 * short: without it Probot would verify signatures with the public default "development".
 */
export function intakeSettingsFromEnv(env: Record<string, string | undefined>): IntakeSettings | undefined {
  if (!env.APP_ID) return undefined;
  const secret = env.WEBHOOK_SECRET ?? "";
  const hint = "Use the webhook secret set in the GitHub App's settings; make a new one with `openssl rand -hex 32`.";
  if (secret.trim() === "") throw new Error(`WEBHOOK_SECRET is not set: YACI will not accept webhooks it cannot verify. ${hint}`);
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new Error(`WEBHOOK_SECRET is ${secret.length} characters long; it must be at least ${MIN_SECRET_LENGTH}. ${hint}`);
  }
  const path = env.WEBHOOK_PATH || DEFAULT_WEBHOOK_PATH;
  if (!path.startsWith("/")) throw new Error(`WEBHOOK_PATH must start with "/", got "${path}"`);
  return { path, secret, internalPath: `/internal/probot-webhooks/${randomBytes(24).toString("hex")}` };
}

export interface IntakeDeps {
  path: string;
  secret: string;
  inbox: Pick<Inbox, "append" | "holds">;
  deliveries: Pick<DeliveryLog, "seen">;
  log: Logger;
  /** Counts deliveries refused or recognised at the door, by event and outcome. */
  onDelivery?(event: string, outcome: string): void;
  maxBodyBytes?: number;
  maxUnverifiedBytes?: number;
}

/** Errors of a disk that cannot take the delivery now: GitHub should send it again later. */
const DISK_FULL = new Set(["ENOSPC", "EDQUOT", "EFBIG", "EROFS", "EIO"]);
const EVENT_NAME = /^[a-z_]{1,64}$/;
const DELIVERY_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The webhook endpoint, as a Probot `addHandler` handler for `POST <path>`: it reads at most
 * `maxBodyBytes` (counted as they arrive: 413 past it), verifies `X-Hub-Signature-256` (400 and no
 * payload in the log when it does not match), recognises a delivery handled or stored before (by
 * id or content: 200), stores the delivery durably in the inbox and answers 202 at once. The inbox
 * worker handles it afterwards. A disk that cannot store it answers 503, so that it is redelivered.
 */
export function createIntakeHandler(deps: IntakeDeps): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const maxBody = deps.maxBodyBytes ?? MAX_WEBHOOK_BYTES;
  const maxUnverified = deps.maxUnverifiedBytes ?? MAX_UNVERIFIED_BYTES;
  let unverified = 0;

  return async (req, res) => {
    const q = req.url?.indexOf("?") ?? -1;
    if ((q < 0 ? req.url : req.url!.slice(0, q)) !== deps.path) return false;
    if (req.method !== "POST") {
      refuse(req, res, 405, "webhooks are delivered with POST", { allow: "POST" });
      return true;
    }
    const name = header(req, "x-github-event");
    const id = header(req, "x-github-delivery");
    const signature = header(req, "x-hub-signature-256");
    if (!name || !id || !signature || !EVENT_NAME.test(name) || !DELIVERY_ID.test(id)) {
      refuse(req, res, 400, "a webhook delivery needs the headers X-GitHub-Event, X-GitHub-Delivery and X-Hub-Signature-256");
      return true;
    }
    if (!/^application\/json\s*(;|$)/i.test(header(req, "content-type") ?? "")) {
      refuse(req, res, 415, "webhooks must be sent with content type application/json");
      return true;
    }
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > maxBody) {
      deps.onDelivery?.(name, "too_large");
      refuse(req, res, 413, `a webhook body may be at most ${maxBody} bytes`);
      return true;
    }
    const hmac = createHmac("sha256", deps.secret);
    const read = await readLimited(req, maxBody, (n) => {
      unverified += n;
      return unverified <= maxUnverified;
    }, (chunk) => hmac.update(chunk));
    unverified -= read.counted;
    if (read.result !== "ok") {
      if (read.result === "too-large") {
        deps.onDelivery?.(name, "too_large");
        refuse(req, res, 413, `a webhook body may be at most ${maxBody} bytes`);
      } else if (read.result === "busy") {
        refuse(req, res, 503, "too many webhook bodies in flight; try again", { "retry-after": "5" });
      }
      return true;
    }
    if (!signatureMatches(signature, hmac.digest("hex"))) {
      deps.onDelivery?.(name, "rejected");
      deps.log.warn({ delivery: id, event: name, bytes: read.body.length }, "webhook refused: its signature does not match WEBHOOK_SECRET");
      sendError(res, 400, "signature does not match");
      return true;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(read.body.toString("utf8"));
    } catch {
      payload = undefined;
    }
    if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
      deps.log.warn({ delivery: id, event: name }, "webhook refused: its body is not a JSON object");
      sendError(res, 400, "the body is not a JSON object");
      return true;
    }
    const hash = deliveryHash(name, payload);
    if (deps.deliveries.seen(id, hash) || deps.inbox.holds(id, hash)) {
      deps.onDelivery?.(name, "duplicate");
      deps.log.info({ delivery: id, event: name }, "delivery received before: nothing to do");
      sendJson(res, 200, { message: "received before; nothing to do" });
      return true;
    }
    try {
      await deps.inbox.append({ id, name, lane: laneOf(payload), hash, body: read.body });
    } catch (err) {
      const code = (err as { code?: string }).code ?? "";
      deps.log.error({ delivery: id, event: name, code, err: (err as Error).message }, "webhook not stored: the inbox cannot write to YACI_DATA_DIR");
      if (DISK_FULL.has(code)) sendError(res, 503, "cannot store the delivery now; send it again later", { "retry-after": "60" });
      else sendError(res, 500, "cannot store the delivery");
      return true;
    }
    sendJson(res, 202, { message: "stored; it is handled in the background" });
    return true;
  };
}

/** Deliveries of one repository share a lane (handled in order); others by installation. */
export function laneOf(payload: object): string {
  const p = payload as { repository?: { id?: unknown }; installation?: { id?: unknown } };
  if (p.repository?.id !== undefined) return `repo:${String(p.repository.id)}`;
  if (p.installation?.id !== undefined) return `installation:${String(p.installation.id)}`;
  return "app";
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === "string" ? v : undefined;
}

function signatureMatches(given: string, expectedHex: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(`sha256=${expectedHex}`);
  return a.length === b.length && timingSafeEqual(a, b);
}

type ReadResult =
  | { result: "ok"; body: Buffer; counted: number }
  | { result: "too-large" | "busy" | "aborted"; counted: number };

/**
 * Reads the body chunk by chunk, at most `limit` bytes, each chunk first admitted by `admit`
 * (the budget of all unverified bodies); stops keeping data at once past either.
 */
function readLimited(req: IncomingMessage, limit: number, admit: (n: number) => boolean, onChunk: (c: Buffer) => void): Promise<ReadResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (r: ReadResult) => {
      if (settled) return;
      settled = true;
      req.off("data", onData).off("end", onEnd).off("error", onAbort).off("aborted", onAbort);
      resolve(r);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      const admitted = admit(chunk.length);
      if (size > limit || !admitted) {
        chunks.length = 0;
        req.pause();
        finish({ result: size > limit ? "too-large" : "busy", counted: size });
        return;
      }
      chunks.push(chunk);
      onChunk(chunk);
    };
    const onEnd = () => finish({ result: "ok", body: Buffer.concat(chunks, size), counted: size });
    const onAbort = () => finish({ result: "aborted", counted: size });
    req.on("data", onData).on("end", onEnd).on("error", onAbort).on("aborted", onAbort);
  });
}

/**
 * Answers without reading the rest of the body and closes the connection: what the client still
 * sends is discarded (never kept) for a moment so that it reads the answer, then the socket goes.
 */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  sendError(res, status, message, { connection: "close", ...headers });
  res.on("finish", () => {
    req.resume();
    const t = setTimeout(() => req.socket.destroy(), 1000);
    t.unref();
    req.socket.once("close", () => clearTimeout(t));
  });
}
