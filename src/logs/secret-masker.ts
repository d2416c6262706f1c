/**
 * The one secret masker of YACI: replaces secrets with `***` before text leaves the process (job
 * logs, check-run output, the run page, `GET /get`). It masks the given strings (the checkout
 * token, a job's secrets) and anything shaped like a GitHub token. Each given string is masked in
 * every form a job could print it: whole, line by line (a multi-line value), and base64-encoded.
 */
import { StringDecoder } from "node:string_decoder";
import { Transform, type Readable, type Writable } from "node:stream";

/** GitHub token shapes (installation `ghs_`, user `ghu_`, OAuth `gho_`, PAT `ghp_`, fine-grained PAT). */
const GITHUB_TOKEN_RE = /\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255})\b/g;
const MASK = "***";
/** A partial line longer than this is emitted without waiting for its end. */
const MAX_LINE = 64 * 1024;
/** What is held back of an over-long line: longer than any token. */
const HOLDBACK = 512;

/** Parts shorter than this are not masked on their own (`***` for every `a` would hide the log). */
const MIN_LENGTH = 4;
/** Where `base64` (coreutils) wraps its lines. */
const WRAP = 76;

/**
 * What to mask for each secret: the value, each line of a multi-line value, and the base64 form of
 * both (standard and URL-safe alphabets, without padding, so the value inside a longer encoded
 * text is found too when it starts on a 3-byte boundary).
 */
export function maskForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  const add = (s: string) => {
    if (s.length < MIN_LENGTH) return;
    forms.add(s);
    const b64 = Buffer.from(s, "utf8").toString("base64");
    forms.add(b64);
    forms.add(b64.replace(/=+$/, ""));
    forms.add(Buffer.from(s, "utf8").toString("base64url"));
    // `base64` wraps its output at 76 characters: each full line of it, and the rest.
    for (let i = 0; b64.length > WRAP && i < b64.length; i += WRAP) forms.add(b64.slice(i, i + WRAP));
  };
  for (const secret of secrets) {
    add(secret);
    const lines = secret.split(/\r?\n/);
    if (lines.length > 1) for (const line of lines) add(line.trim()), add(line);
  }
  return [...forms].filter((f) => f.length >= MIN_LENGTH);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Replaces secrets in text or a log stream with `***`: the given strings (see `maskForms`) and
 * anything shaped like a GitHub token. Works line by line, so a secret split across chunks is
 * still masked, and holds at most one line (64 KiB) in memory.
 */
export class SecretMasker {
  private readonly decoder = new StringDecoder("utf8");
  private pending = "";
  private readonly exact: RegExp | undefined;

  constructor(secrets: readonly string[] = []) {
    const s = maskForms(secrets).sort((a, b) => b.length - a.length);
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


/**
 * Pipes each source (a job's stdout, its stderr) into `sink`, masking `secrets` line by line in
 * each (without secrets: a plain pipe). `sink` is not ended. Call the returned function once the
 * sources are done (or destroyed): it writes what the maskers still hold and resolves after.
 */
export function pipeMasked(sources: ReadonlyArray<Readable | null | undefined>, sink: Writable, secrets: readonly string[]): () => Promise<void> {
  const live = sources.filter((s): s is Readable => !!s);
  if (secrets.length === 0) {
    for (const s of live) s.pipe(sink, { end: false });
    return async () => {};
  }
  const maskers = live.map((s) => {
    const masker = new SecretMasker(secrets);
    const t = new Transform({
      transform: (chunk: Buffer, _enc, cb) => cb(null, masker.push(chunk)),
      flush: (cb) => cb(null, masker.end()),
    });
    s.pipe(t).pipe(sink, { end: false });
    return t;
  });
  return async () => {
    await Promise.all(
      maskers.map(
        (t) =>
          new Promise<void>((resolve) => {
            t.once("end", resolve).once("error", () => resolve()).once("close", () => resolve());
            if (t.readableEnded) resolve();
            else if (!t.writableEnded) t.end();
          }),
      ),
    );
  };
}
