/**
 * The limits of a `.yaci.yml`, and the checks that enforce the size-related ones BEFORE the YAML
 * parser sees the text: some inputs (deep nesting, millions of tokens) cost the parser seconds or
 * abort Node with an out-of-memory error that no `try` can catch, so they are refused from a
 * single linear scan of the bytes. Documented in the README's `.yaci.yml` section.
 */
import { inlineCode } from "./messages.js";
import type { ConfigError } from "./yaci-config.js";

export const CONFIG_LIMITS = {
  /** Bytes of the file. GitHub's contents API stops sending content at 1 MB anyway. */
  fileBytes: 512 * 1024,
  /**
   * YAML tokens outside block scalars (`run: |` bodies): lines, flow items, keys, list items,
   * comments, anchors. What the parser's time grows with (up to ~10 µs each): 5,000 keep
   * every parse well under 100 ms (`npm run bench`), and a config of 256 rich jobs needs ~3,500.
   */
  tokens: 5_000,
  /** Nesting of mappings and lists (a valid config needs 5). */
  depth: 32,
  /** Aliases (`*name`) expanded when the document is read (billion-laughs guard). */
  aliases: 100,
  /** Jobs in `jobs:`, and jobs after every `matrix` is expanded. */
  jobs: 256,
  /** Combinations of one job's `matrix` (GitHub Actions' limit too). */
  matrixCombinations: 256,
  /** `${{ matrix.<key> }}` expressions in one job (each is filled in once per combination). */
  matrixExpressions: 256,
  /** Characters of a job's name, also of a matrix combination's (`test (20, pg)`). */
  jobNameLength: 63,
  /** Names in one `secrets:` list. */
  secrets: 100,
  /** Problems listed in one answer; the rest are counted ("…and 3 more"). */
  errors: 20,
  /**
   * Bytes of one job's `run` script. The Kubernetes executor passes the script as one argument
   * (Linux takes at most 128 KiB per argument) inside a 256 KiB annotation: 64 KiB fits both.
   */
  runBytes: 64 * 1024,
  /** Bytes of one job's environment (`NAME=value` of every variable, top-level `env` included). */
  envBytes: 128 * 1024,
  /** Characters of an environment variable name. */
  envNameLength: 256,
  /** Branch patterns per event, and characters per pattern (Git refs stay under 255). */
  branchPatterns: 100,
  branchPatternLength: 255,
} as const;

/** `1.5 MiB (1,572,864 bytes)`. */
export function formatBytes(n: number): string {
  const unit = n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1).replace(/\.0$/, "")} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1).replace(/\.0$/, "")} KiB` : `${n} bytes`;
  return n >= 1024 ? `${unit} (${n.toLocaleString("en-US")} bytes)` : unit;
}

/** `NAME=value\0` of every variable, as `execve` counts them. */
export function envBytes(env: Record<string, string>): number {
  let n = 0;
  for (const [k, v] of Object.entries(env)) n += Buffer.byteLength(k, "utf8") + Buffer.byteLength(v, "utf8") + 2;
  return n;
}

/** The error for a file over {@link CONFIG_LIMITS.fileBytes} (also when GitHub does not send its content). */
export function fileTooLarge(bytes: number): ConfigError {
  return {
    line: 1,
    column: 1,
    message: `the file is ${formatBytes(bytes)}, more than the limit of ${formatBytes(CONFIG_LIMITS.fileBytes)}`,
    hint: "Move long scripts into files in the repository and call them from `run:` (e.g. `run: ./ci/test.sh`).",
  };
}

/** Offset of the first byte that is not valid UTF-8, or -1. */
export function invalidUtf8Offset(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) [n, min] = [1, 0x80];
    else if (c >= 0xe0 && c <= 0xef) [n, min] = [2, 0x800];
    else if (c >= 0xf0 && c <= 0xf4) [n, min] = [3, 0x10000];
    else return i;
    if (i + n >= b.length) return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

type Pos = (offset: number) => { line: number; column: number };

/** 1-based line and column of an offset, counted in one pass (for errors found before parsing). */
export function positionIn(text: string): Pos {
  return (offset) => {
    let line = 1;
    let start = 0;
    for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
      line++;
      start = i + 1;
    }
    return { line, column: offset - start + 1 };
  };
}

/** A line that opens a block scalar: `key: |`, `- >-`, `run: |2  # comment`. */
const BLOCK_START = /(?:^|[:-][ \t]+)[|>][1-9+-]{0,2}[ \t]*(?:#.*)?\r?$/;
const TOKEN_BEFORE = new Set(["", ":", "-", ",", "[", "{", "?"]);

/**
 * Refuses, from one linear scan, text the YAML parser should never see: a NUL character, more
 * than {@link CONFIG_LIMITS.tokens} tokens outside block scalars, or nesting deeper than
 * {@link CONFIG_LIMITS.depth}. The counts are upper bounds (a `[` inside a quoted string may
 * count), so nothing over the limits gets through. Returns the first problem, or undefined.
 */
export function scanConfigText(text: string): ConfigError | undefined {
  const pos = positionIn(text);
  const nul = text.indexOf("\0");
  if (nul !== -1) {
    return { ...pos(nul), message: "the file contains a NUL character", hint: "`.yaci.yml` must be a text file; remove the NUL byte." };
  }
  const tooDeep = (i: number): ConfigError => ({
    ...pos(i),
    message: `the file nests deeper than ${CONFIG_LIMITS.depth} levels`,
    hint: "A `.yaci.yml` needs only a few levels (jobs → job → env); flatten the structure.",
  });
  let tokens = 0;
  /** Indentation of the open block mappings and lists (list items count once more). */
  const indents: number[] = [];
  let flow = 0;
  /** Indentation of the line that opened a block scalar, while in one. */
  let blockParent = -1;
  for (let lineStart = 0; lineStart < text.length; ) {
    let end = text.indexOf("\n", lineStart);
    if (end === -1) end = text.length;
    let indent = 0;
    while (text[lineStart + indent] === " ") indent++;
    const first = lineStart + indent;
    const blank = first >= end || text[first] === "\r";
    if (blockParent >= 0 && (blank || indent > blockParent)) {
      lineStart = end + 1;
      continue;
    }
    blockParent = -1;
    if (blank) {
      lineStart = end + 1;
      continue;
    }
    const before = tokens;
    while (indents.length > 0 && indents[indents.length - 1]! >= indent) indents.pop();
    indents.push(indent);
    if (indents.length + flow > CONFIG_LIMITS.depth) return tooDeep(first);
    let quote = "";
    let prev = "";
    let prevSolid = "";
    for (let i = first; i < end; i++) {
      const c = text[i]!;
      if (quote) {
        if (c === "\\" && quote === '"') i++;
        else if (c === quote) quote = "";
      } else if (c === "#" && (prev === "" || prev === " " || prev === "\t")) {
        tokens++;
        break;
      } else if ((c === '"' || c === "'") && (flow > 0 || TOKEN_BEFORE.has(prevSolid))) {
        quote = c;
      } else if ((c === "[" || c === "{") && (flow > 0 || TOKEN_BEFORE.has(prevSolid))) {
        flow++;
        tokens++;
        if (indents.length + flow > CONFIG_LIMITS.depth) return tooDeep(i);
      } else if ((c === "]" || c === "}") && flow > 0) {
        flow--;
      } else if (c === "," && flow > 0) {
        tokens++;
      } else if ((c === "&" || c === "*" || c === "!" || c === "?") && TOKEN_BEFORE.has(prevSolid)) {
        tokens++;
      } else if ((c === ":" || c === "-") && (i + 1 === end || " \t\r,]}".includes(text[i + 1]!))) {
        tokens++;
        if (c === "-" && (prevSolid === "" || prevSolid === "-")) {
          indents.push(i - lineStart + 1);
          if (indents.length + flow > CONFIG_LIMITS.depth) return tooDeep(i);
        }
      }
      prev = c;
      if (c !== " " && c !== "\t") prevSolid = c;
    }
    if (tokens === before) tokens++; // a line of plain text is one token
    if (tokens > CONFIG_LIMITS.tokens) {
      return {
        ...pos(first),
        message: `the file is too complex: more than ${CONFIG_LIMITS.tokens.toLocaleString("en-US")} YAML lines and items`,
        hint: "Write long scripts as a block (`run: |` then indented lines) or move them into files in the repository.",
      };
    }
    if (flow === 0 && BLOCK_START.test(text.slice(first, end))) blockParent = indent;
    lineStart = end + 1;
  }
  return undefined;
}

/** `inlineCode` of a name cut to 40 characters, for messages about huge keys. */
export function shortName(name: string): string {
  return inlineCode(name.length > 40 ? `${name.slice(0, 37)}...` : name);
}
