/**
 * Renders `.yaci.yml` problems as Markdown for a check run's `output.text` (or summary): per
 * problem "line L, column C: message", the source line in a fenced block with a caret under the
 * column, and "How to fix: …".
 */
import { inlineCode } from "./messages.js";
import type { ConfigError } from "./yaci-config.js";

/** GitHub rejects check-run `output.summary` / `output.text` longer than this. */
export const CHECK_RUN_TEXT_LIMIT = 65_535;

export interface FormatOptions {
  /** Named in the heading (default `.yaci.yml`). */
  fileName?: string;
  /** At most this many problems are rendered; the rest are counted (default 50). */
  maxErrors?: number;
  /** Hard cap on the output length (default 65,535, GitHub's limit). */
  maxLength?: number;
  /** Problems the parser counted but did not list (`ParseResult.omitted`). */
  omitted?: number;
}

const MAX_QUOTED_LINE = 160;

export function formatConfigErrors(errors: ConfigError[], source: string, options: FormatOptions = {}): string {
  const fileName = options.fileName ?? ".yaci.yml";
  const maxErrors = options.maxErrors ?? 50;
  const maxLength = options.maxLength ?? CHECK_RUN_TEXT_LIMIT;
  const lines = source.split(/\r\n|\r|\n/);
  const n = errors.length + (options.omitted ?? 0);
  const head = `${n === 1 ? "1 problem" : `${n} problems`} in ${inlineCode(fileName)}:`;
  const parts: string[] = [head];
  let length = head.length;
  let shown = 0;
  for (const err of errors.slice(0, maxErrors)) {
    const block = formatOne(err, lines);
    // Keep room for the "… more" line.
    if (length + block.length + 2 + 80 > maxLength) break;
    parts.push(block);
    length += block.length + 2;
    shown++;
  }
  if (shown < n) parts.push(`…and ${n - shown} more ${n - shown === 1 ? "problem" : "problems"} not shown.`);
  return parts.join("\n\n");
}

function formatOne(err: ConfigError, lines: string[]): string {
  const out = [`line ${err.line}, column ${err.column}: ${err.message}`];
  const text = lines[err.line - 1];
  if (text !== undefined) {
    // Control characters (a NUL) become U+FFFD, one for one, so the caret stays under the column.
    // eslint-disable-next-line no-control-regex
    const { quoted, caretAt } = window(text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "\uFFFD"), Math.max(1, err.column));
    // The caret copies tabs from the quoted line so it stays under the column.
    const caretPad = [...quoted.slice(0, caretAt - 1)].map((c) => (c === "\t" ? "\t" : " ")).join("");
    const longest = Math.max(0, ...(quoted.match(/`+/g) ?? []).map((r) => r.length));
    const fence = "`".repeat(Math.max(3, longest + 1));
    out.push(`${fence}yaml\n${quoted}\n${caretPad}^\n${fence}`);
  }
  if (err.hint) out.push(`How to fix: ${err.hint}`);
  return out.join("\n");
}

/** Cuts very long lines to a window around the column; returns the caret's 1-based position. */
function window(text: string, column: number): { quoted: string; caretAt: number } {
  const col = Math.min(column, text.length + 1);
  if (text.length <= MAX_QUOTED_LINE) return { quoted: text, caretAt: col };
  const start = Math.max(0, Math.min(col - 1 - MAX_QUOTED_LINE / 2, text.length - MAX_QUOTED_LINE));
  const end = Math.min(text.length, start + MAX_QUOTED_LINE);
  const prefix = start > 0 ? "…" : "";
  const suffix = end < text.length ? "…" : "";
  return { quoted: `${prefix}${text.slice(start, end)}${suffix}`, caretAt: col - start + prefix.length };
}
