import type { ServerResponse } from "node:http";
import type { HttpDeps } from "./http-deps.js";
import { sendJson } from "./respond.js";

/** How long `/readyz` waits for the executor before answering "not ready". */
export const READY_TIMEOUT_MS = 5000;

/** GET /healthz: the process is alive and serving HTTP. */
export function handleHealthz(res: ServerResponse): void {
  sendJson(res, 200, { status: "ok" });
}

/** GET /readyz: the executor is reachable (for Kubernetes: the API server answers). 503 otherwise. */
export async function handleReadyz(deps: HttpDeps, res: ServerResponse, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  let verdict: boolean | "timeout";
  let detail: string | undefined;
  try {
    verdict = await Promise.race([deps.ready(), timeout]);
  } catch (err) {
    verdict = false;
    detail = err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
  if (verdict === true) {
    sendJson(res, 200, { status: "ready" });
    return;
  }
  const message =
    verdict === "timeout"
      ? `not ready: the executor did not answer within ${timeoutMs} ms`
      : `not ready: the executor is not reachable${detail ? ` (${detail})` : ""}`;
  deps.log?.warn({ detail }, message);
  sendJson(res, 503, { message });
}
