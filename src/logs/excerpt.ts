import stripAnsi from "strip-ansi";
import type { LogTail } from "./log-store.js";

/** GitHub refuses a check run's `output.text` or `output.summary` over this many characters. */
export const GITHUB_OUTPUT_LIMIT = 65_535;

/** How many bytes of a log's end to read for a check run: a little more than fits, ANSI escapes shrink. */
export const EXCERPT_READ_BYTES = 80_000;

function fenceFor(text: string): string {
  let fence = "```";
  while (text.includes(fence)) fence += "`";
  return fence;
}

function cutToBytes(text: string, maxBytes: number): { text: string; cutBytes: number } {
  const buf = Buffer.from(text, "utf8");
  if (buf.length <= maxBytes) return { text, cutBytes: 0 };
  let start = buf.length - maxBytes;
  while (start < buf.length && (buf[start]! & 0xc0) === 0x80) start++;
  return { text: buf.subarray(start).toString("utf8"), cutBytes: start };
}

/**
 * The log as a check run's `output.text`: ANSI escapes stripped, secrets masked, in a fenced block,
 * keeping the END of the log (where failures are) and saying how many bytes were left out.
 * The result never exceeds `limit` bytes (so never more than `limit` characters either).
 */
export function logExcerpt(tail: LogTail, opts: { limit?: number; redact?: (s: string) => string } = {}): string {
  const limit = opts.limit ?? GITHUB_OUTPUT_LIMIT;
  let body = stripAnsi(tail.text).replace(/\r\n/g, "\n");
  if (opts.redact) body = opts.redact(body);
  if (body.length === 0 && tail.omittedBytes === 0) return "_The job printed nothing._";
  const fence = fenceFor(body);
  const note = (omitted: number) =>
    omitted > 0 ? `_${omitted.toLocaleString("en-US")} bytes of the log's start were left out; the end follows._\n\n` : "";
  // Reserve room for the note (its length only grows with the number's digits) and the fences.
  const overhead = Buffer.byteLength(note(tail.totalBytes + limit) + `${fence}text\n\n${fence}\n`);
  const { text, cutBytes } = cutToBytes(body, Math.max(0, limit - overhead));
  const omitted = tail.omittedBytes + cutBytes;
  const ends = text.endsWith("\n") ? "" : "\n";
  return `${note(omitted)}${fence}text\n${text}${ends}${fence}\n`;
}
