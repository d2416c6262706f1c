/**
 * The operator's duration grammar, for environment variables (`YACI_LOG_RETENTION=14d`,
 * `YACI_IMAGE_PULL_GRACE=2m`): one or more `<number><unit>` with units ms, s, m, h, d, w
 * (`1d12h`, `1.5h`, `250ms`); a unit is always required. `.yaci.yml` timeouts have their own,
 * stricter grammar in `config/duration.ts`.
 */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Milliseconds; throws an error that names the variable and shows the expected form. */
export function parseEnvDuration(name: string, text: string): number {
  const t = text.trim().toLowerCase();
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/y;
  let total = 0;
  let pos = 0;
  while (pos < t.length) {
    part.lastIndex = pos;
    const m = part.exec(t);
    if (!m) break;
    total += Number(m[1]) * UNITS[m[2]!]!;
    pos = part.lastIndex;
  }
  if (t.length === 0 || pos !== t.length || !(total > 0)) {
    throw new Error(`${name}: ${JSON.stringify(text)} is not a duration; write a number and a unit (ms, s, m, h, d, w), e.g. "90s", "10m", "14d" or "1h30m"`);
  }
  return Math.round(total);
}
