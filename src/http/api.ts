import type { IncomingMessage, ServerResponse } from "node:http";
import type { HttpDeps, RunView } from "./env.js";
import { readBody, sendError, sendJson, sendTooLarge } from "./respond.js";
import { checkBearer, isRunId } from "./access.js";

/**
 * The original proof of concept's API, kept compatible and made safe:
 *   POST /run   body = the shell command (or JSON {"command", "image"}) → 200 {"name": "<run id>"}
 *   GET  /get?id=<run id>                 → 200 [{"pod", "status", "log"}]
 * Both need `Authorization: Bearer $YACI_API_TOKEN`; without that variable the API is off (404).
 */

export const MAX_BODY_BYTES = 64 * 1024;
/** The image of `POST /run` when none is given, as in the original proof of concept. */
const DEFAULT_API_IMAGE = "alpine";
/** `GET /get` returns at most this much of a log (its end). */
const MAX_GET_LOG_BYTES = 8 * 1024 * 1024;

/** The original API's pod phases. */
export type RunApiStatus = "Pending" | "Running" | "Succeeded" | "Failed";

interface RunApiEntry {
  pod: string;
  status: RunApiStatus;
  log: string;
}

export function runApiStatus(run: Pick<RunView, "phase" | "conclusion">): RunApiStatus {
  switch (run.phase) {
    case "queued":
      return "Pending";
    case "in_progress":
      return "Running";
    case "completed":
      return run.conclusion === "success" ? "Succeeded" : "Failed";
  }
}

/** Checks the bearer token; answers 404 (API off) or 401 itself and returns false when refused. */
function authorize(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): boolean {
  const expected = deps.env.apiToken;
  if (!expected) {
    sendError(res, 404, "not found: the API is off (YACI_API_TOKEN is not set)");
    return false;
  }
  return checkBearer(req, res, expected, "YACI_API_TOKEN");
}

function isJson(req: IncomingMessage): boolean {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  return type === "application/json" || /^application\/[a-z0-9.+-]*\+json$/.test(type);
}

const MAX_IMAGE_LENGTH = 255;
const IMAGE_RE = /^[A-Za-z0-9][A-Za-z0-9._\/:@-]*$/;
/** Why `command` cannot be run, or undefined when it can. */
function commandProblem(command: string): string | undefined {
  if (command.trim() === "") return "command is empty: send the shell command as the request body";
  // No process can receive a NUL in its arguments: spawn would throw, and a pod spec would be cut.
  // (Its length is bounded by the body's: 413 past MAX_BODY_BYTES.)
  if (command.includes("\0")) return "command contains a NUL character (\\u0000), which no shell command can carry";
  return undefined;
}

/** Why `image` is not an image reference, or undefined when it is one. */
function imageProblem(image: string): string | undefined {
  if (image.length > MAX_IMAGE_LENGTH) return `"image" is ${image.length} characters long; at most ${MAX_IMAGE_LENGTH} are allowed`;
  if (!IMAGE_RE.test(image)) return `"image" is not a valid image reference: ${JSON.stringify(image.slice(0, 100))}`;
  return undefined;
}

type Parsed = { ok: true; command: string; image: string } | { ok: false; message: string };

function parseRunBody(req: IncomingMessage, body: Buffer): Parsed {
  if (!isJson(req)) {
    // The raw body is the command, whatever the content type (curl -d labels it form-urlencoded).
    const command = body.toString("utf8");
    const problem = commandProblem(command);
    return problem ? { ok: false, message: problem } : { ok: true, command, image: DEFAULT_API_IMAGE };
  }
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch {
    return { ok: false, message: 'body is not valid JSON: send {"command": "...", "image": "..."}' };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, message: 'body must be a JSON object: {"command": "...", "image": "..."}' };
  }
  const { command, image } = value as Record<string, unknown>;
  if (command !== undefined && typeof command !== "string") return { ok: false, message: '"command" must be a string' };
  if (command === undefined || command.trim() === "") return { ok: false, message: 'command is empty: set "command"' };
  const problem = commandProblem(command);
  if (problem) return { ok: false, message: problem };
  if (image !== undefined && image !== null && typeof image !== "string") return { ok: false, message: '"image" must be a string' };
  const badImage = typeof image === "string" && image !== "" ? imageProblem(image) : undefined;
  if (badImage) return { ok: false, message: badImage };
  return { ok: true, command, image: typeof image === "string" && image !== "" ? image : DEFAULT_API_IMAGE };
}

/** POST /run */
export async function handleRun(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!authorize(deps, req, res)) return;
  const read = await readBody(req, MAX_BODY_BYTES);
  if (!read.ok) {
    if (read.reason === "too-large") sendTooLarge(req, res, MAX_BODY_BYTES);
    else res.destroy();
    return;
  }
  const parsed = parseRunBody(req, read.body);
  if (!parsed.ok) {
    sendError(res, 400, parsed.message);
    return;
  }
  let id: string;
  try {
    ({ id } = await deps.submit({ command: parsed.command, image: parsed.image }));
  } catch (err) {
    deps.log?.error({ err }, "POST /run: could not start the run");
    sendError(res, 503, `could not start the run: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  deps.log?.info({ runId: id, image: parsed.image }, "POST /run: run accepted");
  sendJson(res, 200, { name: id });
}

/** GET /get?id= */
export async function handleGet(deps: HttpDeps, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (!authorize(deps, req, res)) return;
  const id = url.searchParams.get("id");
  if (id === null || id === "") {
    sendError(res, 400, "id query param is required");
    return;
  }
  const run = isRunId(id) ? await deps.runs.get(id) : undefined;
  if (!run) {
    sendError(res, 404, `no run with id ${JSON.stringify(id.slice(0, 200))}`);
    return;
  }
  const { text } = await deps.logs.tail(run.spec.id, MAX_GET_LOG_BYTES);
  const entries: RunApiEntry[] = [{ pod: run.podName ?? run.spec.id, status: runApiStatus(run), log: text }];
  sendJson(res, 200, entries);
}
