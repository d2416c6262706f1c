import { parseDuration } from "../logs/retention.js";

/** How far back catch-up looks for failed deliveries by default (GitHub keeps them 3 days). */
export const DEFAULT_CATCHUP_WINDOW_MS = 24 * 3_600_000;
/** How often catch-up runs by default. */
export const DEFAULT_CATCHUP_INTERVAL_MS = 10 * 60_000;
/** The first pass waits this long after start, so the webhook server listens when redeliveries arrive. */
export const DEFAULT_CATCHUP_FIRST_DELAY_MS = 5_000;

export interface CatchUpEnvOptions {
  windowMs: number;
  intervalMs: number;
  firstDelayMs: number;
}

const OFF = new Set(["0", "off", "false", "no", "none", "disabled"]);
const isZero = (s: string) => /^0+(\.0+)?(ms|s|m|h|d|w)?$/.test(s);

/**
 * The catch-up settings: `YACI_CATCHUP_INTERVAL` (default 10m; "0" or "off" disables catch-up:
 * the result is null), `YACI_CATCHUP_WINDOW` (default 24h), `YACI_CATCHUP_FIRST_DELAY`
 * (default 5s; "0" runs the first pass at once). Throws on values that are not durations.
 */
export function catchUpOptionsFromEnv(env: Record<string, string | undefined> = process.env): CatchUpEnvOptions | null {
  const interval = env.YACI_CATCHUP_INTERVAL?.trim().toLowerCase() ?? "";
  if (OFF.has(interval) || (interval !== "" && isZero(interval))) return null;
  const intervalMs = interval === "" ? DEFAULT_CATCHUP_INTERVAL_MS : parseDuration(interval, "YACI_CATCHUP_INTERVAL");
  const window = env.YACI_CATCHUP_WINDOW?.trim() ?? "";
  const windowMs = window === "" ? DEFAULT_CATCHUP_WINDOW_MS : parseDuration(window, "YACI_CATCHUP_WINDOW");
  const first = env.YACI_CATCHUP_FIRST_DELAY?.trim() ?? "";
  const firstDelayMs = first === "" ? DEFAULT_CATCHUP_FIRST_DELAY_MS : isZero(first) ? 0 : parseDuration(first, "YACI_CATCHUP_FIRST_DELAY");
  return { windowMs, intervalMs, firstDelayMs };
}
