import { AnsiUp } from "ansi_up";
import type { HttpDeps } from "./http-deps.js";

/** Colour state is rebuilt from at most this much log before a stream's starting offset. */
export const MAX_REPLAY_BYTES = 4 * 1024 * 1024;

function newAnsi(): AnsiUp {
  const ansi = new AnsiUp();
  ansi.escape_html = true;
  ansi.use_classes = true; // the page's palette (readable on its dark background), not ANSI's raw RGB
  return ansi;
}

/** An AnsiUp whose colour state is that of the log at `offset` (replays up to MAX_REPLAY_BYTES before it). */
export async function ansiAt(deps: HttpDeps, runId: string, offset: number): Promise<AnsiUp> {
  const ansi = newAnsi();
  let pos = Math.max(0, offset - MAX_REPLAY_BYTES);
  while (pos < offset) {
    const buf = await deps.logs.readFrom(runId, pos, Math.min(1 << 20, offset - pos));
    if (buf.length === 0) break;
    ansi.ansi_to_html(buf.toString("latin1")); // only the escape state matters; text is discarded
    pos += buf.length;
  }
  return ansi;
}
