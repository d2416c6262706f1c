/**
 * What a failed Kubernetes API call means: a sentence for a person (`apiMessage`), whether it may
 * pass (`transientKubeError`), and calling again until it does (`retryTransient`).
 */
import { ApiException } from "@kubernetes/client-node";
import type { Timers } from "../../clock.js";
import { httpStatusOf } from "../../http-status.js";
import type { Logger } from "../../logger.js";

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

/** Kubernetes answers that may pass: no answer at all (refused, reset, timeout), 429, 500, 502, 503, 504. */
export function transientKubeError(err: unknown): boolean {
  const status = httpStatusOf(err);
  return status === undefined || status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

/** The API server's `Retry-After` (seconds), in ms, when it sent one. */
function retryAfterMs(err: unknown): number | undefined {
  const headers = (err as { headers?: Record<string, string | string[] | undefined> } | undefined)?.headers;
  const raw = headers?.["retry-after"] ?? headers?.["Retry-After"];
  const seconds = Number(Array.isArray(raw) ? raw[0] : raw);
  return raw !== undefined && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

export interface RetryPolicy {
  now: () => number;
  timers: Timers;
  /** True once the caller closed: no more tries. */
  stopped: () => boolean;
  /** Waits double from `initialMs` to `maxMs` (default 1 s → 30 s), with jitter. */
  backoff?: { initialMs: number; maxMs: number } | undefined;
  /** Jitter source (tests: a constant). */
  random?: (() => number) | undefined;
  log?: Logger | undefined;
}

/**
 * Calls `fn` until it succeeds, a permanent error comes back (not `transientKubeError`), or the
 * next try would start after `deadline`: waits double from 1 s to 30 s, with jitter, or follow
 * the server's `Retry-After`. `what` ("create Job x") and `runId` go into the log lines.
 */
export async function retryTransient<T>(what: string, runId: string, deadline: number, fn: () => Promise<T>, p: RetryPolicy): Promise<T> {
  const { initialMs, maxMs } = p.backoff ?? { initialMs: 1000, maxMs: 30_000 };
  const random = p.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!transientKubeError(err) || p.stopped()) throw err;
      const backoff = Math.min(maxMs, initialMs * 2 ** (attempt - 1));
      const wait = retryAfterMs(err) ?? Math.round(backoff * (0.5 + random() / 2));
      if (p.now() + wait > deadline) throw err;
      const message = `kubernetes: could not ${what} (${apiMessage(err)}); try ${attempt + 1} in ${Math.round(wait / 100) / 10}s`;
      if (attempt === 1) p.log?.warn({ runId }, message);
      else p.log?.info({ runId }, message);
      await new Promise<void>((resolve) => p.timers.setTimeout(resolve, wait));
    }
  }
}
