import { realIntervals, type Intervals } from "../clock.js";
import { parseEnvDuration } from "../env-duration.js";
import type { Logger } from "../logger.js";
import type { LogStore } from "./log-store.js";

export const DEFAULT_LOG_RETENTION_MS = 14 * 24 * 3600 * 1000;
/** How often retention runs by default: hourly. */
export const DEFAULT_RETENTION_INTERVAL_MS = 3600 * 1000;

/** YACI_LOG_RETENTION, default 14 days. */
export function logRetentionFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.YACI_LOG_RETENTION;
  return v === undefined || v.trim() === "" ? DEFAULT_LOG_RETENTION_MS : parseEnvDuration("YACI_LOG_RETENTION", v);
}

export interface LogRetentionOptions {
  logs: Pick<LogStore, "prune">;
  retentionMs: number;
  now?: () => Date;
  intervalMs?: number;
  timer?: Intervals;
  log?: Pick<Logger, "info" | "error">;
  /** Called with the run ids whose logs were deleted (e.g. to drop their records too). */
  onPruned?: (runIds: string[]) => void | Promise<void>;
}

export interface LogRetention {
  /** Prunes now: deletes logs last written more than `retentionMs` ago. Never runs twice at once. */
  runOnce(): Promise<string[]>;
  stop(): void;
}

/**
 * Deletes logs older than the retention period: once at start, then every `intervalMs`.
 * Errors are logged, never thrown out of the timer.
 */
export function startLogRetention(options: LogRetentionOptions): LogRetention {
  const now = options.now ?? (() => new Date());
  const timer = options.timer ?? realIntervals;
  const intervalMs = options.intervalMs ?? Math.min(DEFAULT_RETENTION_INTERVAL_MS, options.retentionMs);
  let running: Promise<string[]> | undefined;

  const runOnce = (): Promise<string[]> => {
    if (running) return running;
    running = (async () => {
      try {
        const before = new Date(now().getTime() - options.retentionMs);
        const removed = await options.logs.prune(before);
        if (removed.length > 0) {
          options.log?.info({ removed: removed.length, before: before.toISOString() }, "log retention: deleted old logs");
          await options.onPruned?.(removed);
        }
        return removed;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  const tick = () => {
    runOnce().catch((err: unknown) => options.log?.error({ err }, "log retention failed"));
  };
  const handle = timer.setInterval(tick, intervalMs);
  tick();
  return {
    runOnce,
    stop() {
      timer.clearInterval(handle);
    },
  };
}
