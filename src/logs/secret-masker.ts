/**
 * The one secret masker of YACI: replaces secrets with `***` before text leaves the process (job
 * logs, check-run output, the run page, `GET /get`). It masks the given strings (the checkout
 * token) and anything shaped like a GitHub token.
 */
import { StringDecoder } from "node:string_decoder";

/** GitHub token shapes (installation `ghs_`, user `ghu_`, OAuth `gho_`, PAT `ghp_`, fine-grained PAT). */
const GITHUB_TOKEN_RE = /\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255})\b/g;
const MASK = "***";
/** A partial line longer than this is emitted without waiting for its end. */
const MAX_LINE = 64 * 1024;
/** What is held back of an over-long line: longer than any token. */
const HOLDBACK = 512;

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Replaces secrets in text or a log stream with `***`: the given strings (the checkout token) and
 * anything shaped like a GitHub token. Works line by line, so a secret split across chunks is
 * still masked, and holds at most one line (64 KiB) in memory.
 */
export class SecretMasker {
  private readonly decoder = new StringDecoder("utf8");
  private pending = "";
  private readonly exact: RegExp | undefined;

  constructor(secrets: readonly string[] = []) {
    const s = secrets.filter((x) => x.length >= 4).sort((a, b) => b.length - a.length);
    this.exact = s.length ? new RegExp(s.map(escapeRe).join("|"), "g") : undefined;
  }

  mask(text: string): string {
    const t = this.exact ? text.replace(this.exact, MASK) : text;
    return t.replace(GITHUB_TOKEN_RE, MASK);
  }

  /** Feeds a chunk; returns the masked text that is safe to emit now. */
  push(chunk: Buffer | string): string {
    this.pending += typeof chunk === "string" ? chunk : this.decoder.write(chunk);
    const nl = this.pending.lastIndexOf("\n");
    let cut = nl + 1;
    if (cut === 0 && this.pending.length > MAX_LINE) {
      // An endless line: cut where no token can be split (between a word and a non-word char).
      // Tokens are runs of word characters: look back (at most HOLDBACK) for the end of one.
      const start = this.pending.length - HOLDBACK;
      const word = /[A-Za-z0-9_]/;
      cut = start;
      while (cut > start - HOLDBACK && word.test(this.pending[cut - 1]!) && word.test(this.pending[cut]!)) cut--;
      if (cut === start - HOLDBACK) cut = start; // one long word: no token boundary anyway
    }
    if (cut <= 0) return "";
    const out = this.pending.slice(0, cut);
    this.pending = this.pending.slice(cut);
    return this.mask(out);
  }

  /** The rest, at the end of the stream. */
  end(): string {
    const out = this.pending + this.decoder.end();
    this.pending = "";
    return this.mask(out);
  }
}

