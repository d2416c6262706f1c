/**
 * Durations in `.yaci.yml` (`timeout: 15m`): a number followed by `h`, `m` or `s`, optionally
 * combined in that order (`1h30m`, `2m30s`, `1.5h`). Bounds: more than 0 and at most 6h.
 */
import { inlineCode, showValue } from "./messages.js";
import { MAX_TIMEOUT_MS } from "./yaci-config.js";

/** The accepted syntax, also used by the JSON schema (`pattern`). Bounds are checked separately. */
export const DURATION_PATTERN =
  "^\\s*(?=\\d)(?:(\\d+(?:\\.\\d+)?)h)?\\s*(?:(\\d+(?:\\.\\d+)?)m)?\\s*(?:(\\d+(?:\\.\\d+)?)s)?\\s*$";
const DURATION_RE = new RegExp(DURATION_PATTERN);

const UNIT_MS = { h: 3_600_000, m: 60_000, s: 1_000 } as const;

export type DurationResult =
  | { ok: true; ms: number }
  | { ok: false; message: string; hint: string };

const GENERIC_HINT = "Write a number followed by s, m or h, e.g. `90s`, `15m` or `1h30m`.";

/** Formats milliseconds the way a user would write them (`5400000` → `1h30m`). */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms / 1000);
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  const s = rest - m * 60;
  const out = `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${s ? `${s}s` : ""}`;
  return out || "0s";
}

/** Like {@link parseDuration} but never throws: returns a message and a hint on bad input. */
export function tryParseDuration(text: string, max = MAX_TIMEOUT_MS): DurationResult {
  const t = text.trim();
  const m = DURATION_RE.exec(t);
  if (!m || t === "") return { ok: false, message: `must be a duration like 15m, got ${showValue(text)}`, hint: hintFor(t) };
  const ms = Math.round(
    Number(m[1] ?? 0) * UNIT_MS.h + Number(m[2] ?? 0) * UNIT_MS.m + Number(m[3] ?? 0) * UNIT_MS.s,
  );
  if (!(ms > 0)) return { ok: false, message: `must be longer than 0, got ${showValue(text)}`, hint: "Use a positive duration such as `10m`." };
  if (ms > max)
    return {
      ok: false,
      message: `must be at most ${formatDuration(max)}, got ${showValue(text)}`,
      hint: `Use ${formatDuration(max)} or less; split very long work into several jobs.`,
    };
  return { ok: true, ms };
}

/** Parses `15m`, `90s`, `2h`, `1h30m`, `1.5h` into milliseconds; throws a RangeError otherwise. */
export function parseDuration(text: string, max = MAX_TIMEOUT_MS): number {
  const r = tryParseDuration(text, max);
  if (!r.ok) throw new RangeError(`invalid duration ${inlineCode(text)}: it ${r.message.replace(/, got .*$/s, "")}. ${r.hint}`);
  return r.ms;
}

const WORD_UNITS: Array<[RegExp, string]> = [
  [/^(?:h|hr|hrs|hour|hours)$/i, "h"],
  [/^(?:m|min|mins|minute|minutes)$/i, "m"],
  [/^(?:s|sec|secs|second|seconds)$/i, "s"],
];

function hintFor(t: string): string {
  if (t.length > 20) return GENERIC_HINT; // hints quote the value: keep them short
  if (/^\d+(?:\.\d+)?$/.test(t)) return `Add a unit: \`${t}m\` for minutes (or \`${t}s\`, \`${t}h\`).`;
  if (/^\d+(?:\.\d+)?\s*ms$/i.test(t)) return "Milliseconds are not supported: use s, m or h, e.g. `30s`.";
  if (/^\d+(?:\.\d+)?\s*(?:d|days?|w|weeks?)$/i.test(t)) return "Days and weeks are not supported: the longest timeout is 6h.";
  const word = /^(\d+(?:\.\d+)?)\s*([A-Za-z]+)$/.exec(t);
  if (word) {
    for (const [re, unit] of WORD_UNITS) if (re.test(word[2]!)) return `Write \`${word[1]}${unit}\`.`;
  }
  return GENERIC_HINT;
}
