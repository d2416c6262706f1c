import type { LogStore } from "./log-store.js";

export const DEFAULT_LOG_RETENTION_MS = 14 * 24 * 3600 * 1000;
/** How often retention runs by default: hourly. */
export const DEFAULT_RETENTION_INTERVAL_MS = 3600 * 1000;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Parses a duration like "14d", "36h", "90m", "30s", "1w" or "1d12h" into milliseconds.
 * Throws an error that names the variable and shows the expected form.
 */
export function parseDuration(text: string, name = "duration"): number {
  const s = text.trim().toLowerCase();
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    part.lastIndex = pos;
    const m = part.exec(s);
    if (!m) break;
    total += Number(m[1]) * UNITS[m[2]!]!;
    pos = part.lastIndex;
  }
  if (s.length === 0 || pos !== s.length || !(total > 0)) {
    throw new Error(`${name}: "${text}" is not a duration; write a number and a unit (ms, s, m, h, d, w), e.g. "14d" or "36h"`);
  }
  return Math.round(total);
}

/** YACI_LOG_RETENTION, default 14 days. */
export function logRetentionFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.YACI_LOG_RETENTION;
  return v === undefined || v.trim() === "" ? DEFAULT_LOG_RETENTION_MS : parseDuration(v, "YACI_LOG_RETENTION");
}

/** The timer functions retention uses: the global ones by default, a fake in tests. */
export interface RetentionTimer {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface RetentionLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface LogRetentionOptions {
  logs: Pick<LogStore, "prune">;
  retentionMs: number;
  now?: () => Date;
  intervalMs?: number;
  timer?: RetentionTimer;
  log?: RetentionLogger;
  /** Called with the run ids whose logs were deleted (e.g. to drop their records too). */
  onPruned?: (runIds: string[]) => void | Promise<void>;
}

export interface LogRetention {
  /** Prunes now: deletes logs last written more than `retentionMs` ago. Never runs twice at once. */
  runOnce(): Promise<string[]>;
  stop(): void;
}

const defaultTimer: RetentionTimer = {
  setInterval(fn, ms) {
    const h = setInterval(fn, ms);
    h.unref();
    return h;
  },
  clearInterval(handle) {
    clearInterval(handle as NodeJS.Timeout);
  },
};

/**
 * Deletes logs older than the retention period: once at start, then every `intervalMs`.
 * Errors are logged, never thrown out of the timer.
 */
export function startLogRetention(options: LogRetentionOptions): LogRetention {
  const now = options.now ?? (() => new Date());
  const timer = options.timer ?? defaultTimer;
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
