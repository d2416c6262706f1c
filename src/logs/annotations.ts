/**
 * Turns compiler and linter output in a job log into check-run annotations (pure, no I/O).
 *
 * Recognised shapes (after ANSI colours are stripped):
 * - TypeScript: `src/a.ts(12,5): error TS2322: …` and `src/a.ts:12:5 - error TS2322: …`
 * - ESLint `unix` formatter: `/abs/file.js:3:7: message [Error/rule-id]`
 * - GCC / Clang (and other tools in that style): `file.c:10:3: error|warning|note: …`
 * - Rust short (`--message-format short`): `src/main.rs:2:5: error[E0425]: …`, and the default
 *   human format: `error[E0425]: …` followed by ` --> src/main.rs:2:5`
 * - Go and other bare `file:line:col: message` lines (a failure)
 */
import { posix } from "node:path";
import stripAnsi from "strip-ansi";

export type AnnotationLevel = "failure" | "warning" | "notice";

/** The fields of a GitHub check-run annotation. */
export interface Annotation {
  path: string;
  start_line: number;
  end_line: number;
  start_column?: number;
  end_column?: number;
  annotation_level: AnnotationLevel;
  message: string;
  title?: string;
}

export interface ParseAnnotationsOptions {
  /** Absolute directory the job ran in; paths under it become relative to it. */
  workspace?: string;
  /** At most this many annotations (default 200). */
  max?: number;
}

/** GitHub accepts at most this many annotations per check-run update. */
export const ANNOTATIONS_PER_REQUEST = 50;
const DEFAULT_MAX = 200;
/** Longer lines are skipped: compiler diagnostics are not that long, minified blobs are. */
const MAX_LINE_LENGTH = 4000;
const MAX_MESSAGE_LENGTH = 4000;

// A file path with an extension, without spaces, colons or parentheses.
const FILE = String.raw`([^\s:()"'<>|]+\.[A-Za-z0-9_+-]+)`;

const TS_CLASSIC = new RegExp(String.raw`^\s*${FILE}\((\d+),(\d+)\): (error|warning|message|info) (TS\d+): (.*)$`);
const TS_PRETTY = new RegExp(String.raw`^\s*${FILE}:(\d+):(\d+) - (error|warning|message|info) (TS\d+): (.*)$`);
const ESLINT_UNIX = new RegExp(String.raw`^\s*${FILE}:(\d+):(\d+): (.*?)\s*\[(Error|Warning)(?:\/([^\]]+))?\]\s*$`);
const GCC_STYLE = new RegExp(
  String.raw`^\s*${FILE}:(\d+)(?::(\d+))?: (fatal error|error|warning|note|info|remark|help)(?:\[([^\]]+)\])?: (.*)$`,
);
const BARE = new RegExp(String.raw`^\s*${FILE}:(\d+):(\d+): (\S.*)$`);
const RUST_HEADER = /^(error|warning)(?:\[(E\d+)\])?: (.*)$/;
const RUST_LOCATION = new RegExp(String.raw`^\s*--> ${FILE}:(\d+):(\d+)\s*$`);
const CLANG_FLAG = /\s\[(-W[^\]]+)\]$/;

function levelOf(word: string): AnnotationLevel {
  switch (word.toLowerCase()) {
    case "error":
    case "fatal error":
      return "failure";
    case "warning":
      return "warning";
    default:
      return "notice";
  }
}

interface Raw {
  file: string;
  line: string;
  column: string | undefined;
  level: AnnotationLevel;
  message: string;
  title?: string | undefined;
  /** Indented lines after it continue the message (tsc's non-pretty output). */
  continues?: boolean;
}

function matchLine(line: string): Raw | undefined {
  let m = TS_CLASSIC.exec(line);
  if (m) return { file: m[1]!, line: m[2]!, column: m[3]!, level: levelOf(m[4]!), title: m[5]!, message: m[6]!, continues: true };
  m = TS_PRETTY.exec(line);
  if (m) return { file: m[1]!, line: m[2]!, column: m[3]!, level: levelOf(m[4]!), title: m[5]!, message: m[6]! };
  m = ESLINT_UNIX.exec(line);
  if (m) return { file: m[1]!, line: m[2]!, column: m[3]!, message: m[4]!, level: levelOf(m[5]!), title: m[6] };
  m = GCC_STYLE.exec(line);
  if (m) {
    let message = m[6]!;
    let title = m[5];
    const flag = CLANG_FLAG.exec(message);
    if (!title && flag) {
      title = flag[1];
      message = message.slice(0, flag.index);
    }
    return { file: m[1]!, line: m[2]!, column: m[3], level: levelOf(m[4]!), title, message };
  }
  m = BARE.exec(line);
  if (m) return { file: m[1]!, line: m[2]!, column: m[3]!, level: "failure", message: m[4]! };
  return undefined;
}

/** The path relative to the workspace, or undefined when it lies outside it. */
function relativePath(file: string, workspace: string | undefined): string | undefined {
  let p = file;
  if (workspace) {
    const ws = workspace.replace(/\/+$/, "");
    if (ws && p.startsWith(`${ws}/`)) p = p.slice(ws.length + 1);
  }
  if (p.startsWith("/")) return undefined;
  p = posix.normalize(p);
  if (p === "." || p === ".." || p.startsWith("../")) return undefined;
  return p;
}

function truncate(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** Finds compiler/linter diagnostics in a job log; see the module comment for the shapes. */
export function parseAnnotations(log: string, opts: ParseAnnotationsOptions = {}): Annotation[] {
  const max = opts.max ?? DEFAULT_MAX;
  const out: Annotation[] = [];
  if (max <= 0) return out;
  const seen = new Set<string>();
  const lines = stripAnsi(log).split(/\r\n|\n|\r/);

  let pending: Raw | undefined; // a tsc diagnostic whose message may continue on indented lines
  let rustHeader: { level: AnnotationLevel; title?: string | undefined; message: string } | undefined;

  const flush = (): boolean => {
    if (!pending) return out.length < max;
    const raw = pending;
    pending = undefined;
    const path = relativePath(raw.file, opts.workspace);
    const line = Number(raw.line);
    if (path === undefined || !(line >= 1)) return true;
    const a: Annotation = {
      path,
      start_line: line,
      end_line: line,
      annotation_level: raw.level,
      message: truncate(raw.message.trim() || raw.title || "error", MAX_MESSAGE_LENGTH),
    };
    const column = raw.column !== undefined ? Number(raw.column) : undefined;
    if (column !== undefined && column >= 1) {
      a.start_column = column;
      a.end_column = column;
    }
    if (raw.title) a.title = raw.title;
    const key = JSON.stringify(a);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(a);
    }
    return out.length < max;
  };

  for (const text of lines) {
    if (text.length > MAX_LINE_LENGTH) {
      if (!flush()) return out;
      rustHeader = undefined;
      continue;
    }
    const line = text.trimEnd();
    if (pending?.continues && /^\s{2,}\S/.test(line) && !matchLine(line)) {
      pending.message += `\n${line.trim()}`;
      continue;
    }
    if (!flush()) return out;

    if (rustHeader) {
      const loc = RUST_LOCATION.exec(line);
      const header = rustHeader;
      rustHeader = undefined;
      if (loc) {
        pending = { file: loc[1]!, line: loc[2]!, column: loc[3]!, ...header };
        continue;
      }
    }
    const header = RUST_HEADER.exec(line);
    if (header) {
      rustHeader = { level: levelOf(header[1]!), title: header[2], message: header[3]! };
      continue;
    }
    if (!line.includes(":")) continue;
    pending = matchLine(line);
  }
  flush();
  return out;
}

/** Splits `items` into chunks of at most `size` (GitHub takes 50 annotations per request). */
export function batchAnnotations<T>(items: T[], size = ANNOTATIONS_PER_REQUEST): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`batch size must be a positive integer, got ${size}`);
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
  return batches;
}
