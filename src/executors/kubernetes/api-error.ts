import { ApiException } from "@kubernetes/client-node";

/**
 * A failed Kubernetes API call in a sentence: the status and the API server's message when it
 * sent one (its HTTP status alone comes from `httpStatusOf`).
 */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    try {
      const status = JSON.parse(String(err.body)) as { message?: string };
      if (status.message) return `HTTP ${err.code}: ${status.message}`;
    } catch {
      /* not JSON */
    }
    return `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}
