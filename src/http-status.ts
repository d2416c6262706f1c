/**
 * The HTTP status of a failed request, whichever client made it: Octokit's `RequestError`
 * (`status`), client-node's `ApiException` (`code`), or a plain `{ statusCode }`. Undefined for
 * errors that never got an answer (connection refused, reset, timeout).
 */
export function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { status?: unknown; code?: unknown; statusCode?: unknown };
  for (const v of [e.status, e.code, e.statusCode]) if (typeof v === "number") return v;
  return undefined;
}
