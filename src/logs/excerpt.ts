import stripAnsi from "strip-ansi";
import type { LogTail } from "./log-store.js";

/** GitHub refuses a check run's `output.text` or `output.summary` over this many characters. */
export const GITHUB_OUTPUT_LIMIT = 65_535;

/** How many bytes of a log's end to read for a check run: a little more than fits, ANSI escapes shrink. */
export const EXCERPT_READ_BYTES = 80_000;

/** A fence longer than this is never used: a log holding such a backtick run is indented instead. */
export const MAX_FENCE = 10;

/** The longest run of backticks in `text` (one linear scan). */
function longestBacktickRun(text: string): number {
  let longest = 0;
  for (const m of text.matchAll(/`+/g)) longest = Math.max(longest, m[0].length);
  return longest;
}

function cutToBytes(text: string, maxBytes: number): { text: string; cutBytes: number } {
  const buf = Buffer.from(text, "utf8");
  if (buf.length <= maxBytes) return { text, cutBytes: 0 };
  let start = buf.length - maxBytes;
  while (start < buf.length && (buf[start]! & 0xc0) === 0x80) start++;
  return { text: buf.subarray(start).toString("utf8"), cutBytes: start };
}

/**
 * The log as a check run's `output.text`: ANSI escapes stripped, secrets masked, in a fenced block
 * (or, when the log holds a run of MAX_FENCE backticks or more, an indented one: a fence that
 * outgrows every run would itself pass GitHub's limit), keeping the END of the log (where failures
 * are) and saying how many bytes were left out.
 * The result never exceeds `limit` bytes (so never more than `limit` characters either).
 */
export function logExcerpt(tail: LogTail, opts: { limit?: number; redact?: (s: string) => string } = {}): string {
  const limit = opts.limit ?? GITHUB_OUTPUT_LIMIT;
  let body = stripAnsi(tail.text).replace(/\r\n/g, "\n");
  if (opts.redact) body = opts.redact(body);
  if (body.length === 0 && tail.omittedBytes === 0) return "_The job printed nothing._";
  const note = (omitted: number) =>
    omitted > 0 ? `_${omitted.toLocaleString("en-US")} bytes of the log's start were left out; the end follows._\n\n` : "";
  // Reserve room for the note (its length only grows with the number's digits).
  const noteRoom = Buffer.byteLength(note(tail.totalBytes + limit));
  const run = longestBacktickRun(body);
  if (run < MAX_FENCE) {
    const fence = "`".repeat(Math.max(3, run + 1));
    const { text, cutBytes } = cutToBytes(body, Math.max(0, limit - noteRoom - Buffer.byteLength(`${fence}text\n\n${fence}\n`)));
    const ends = text.endsWith("\n") ? "" : "\n";
    return `${note(tail.omittedBytes + cutBytes)}${fence}text\n${text}${ends}${fence}\n`;
  }
  // A backtick run no fence should have to outgrow: an indented code block needs no fence at all.
  // Each kept line costs 4 bytes more, so cut until the indented lines fit too.
  let room = Math.max(0, limit - noteRoom - 1);
  for (;;) {
    const { text, cutBytes } = cutToBytes(body, room);
    const lines = text.replace(/\n$/, "").split("\n");
    const indented = lines.map((l) => `    ${l}`).join("\n") + "\n";
    const size = Buffer.byteLength(indented);
    if (size <= limit - noteRoom || room === 0) return `${note(tail.omittedBytes + cutBytes)}${indented}`;
    room = Math.max(0, Math.min(room - 1, Math.floor((room * (limit - noteRoom)) / size)));
  }
}
