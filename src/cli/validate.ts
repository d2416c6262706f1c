/**
 * What every `yaci` command shares (its streams and styling, {@link Io}; exit codes; a strict
 * command-line parser whose mistakes are {@link UsageError}s: exit 2), and `yaci validate [FILE]`,
 * which checks a `.yaci.yml` with the app's own parser (`parseConfig`), so the
 * answer is exactly the check run's. Problems are printed as `FILE:LINE:COL: message` (the shape
 * editors and CI problem matchers read), with the offending line and the fix; `--format json`
 * prints one JSON document for machines. `yaci run` reads its config the same way.
 */
import { open } from "node:fs/promises";
import { relative, resolve } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { CONFIG_LIMITS, fileTooLarge } from "../config/config-limits.js";
import { parseConfig } from "../config/parse-config.js";
import type { ConfigError, ParseResult } from "../config/yaci-config.js";
import { formatDuration } from "../core/format-duration.js";

// ---- Shared by every command ----

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** Where a command writes, and how it may style what it writes. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Styles text when the stream is a terminal and NO_COLOR is unset; else returns it unchanged. */
  style: Style;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Standard input, read to its end (`yaci secret set`). */
  readInput?: () => Promise<string>;
}

const CODES = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], blue: [34, 39], magenta: [35, 39], cyan: [36, 39] } as const;
export type Colour = keyof typeof CODES;
export type Style = (colour: Colour, text: string) => string;

/** ANSI styling for a stream, following https://no-color.org (any non-empty NO_COLOR turns it off). */
export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): Style {
  const on = stream.isTTY === true && !env.NO_COLOR;
  return (colour, text) => (on ? `\u001b[${CODES[colour][0]}m${text}\u001b[${CODES[colour][1]}m` : text);
}

/** A wrong command line: printed with the command's usage, exit 2. */
export class UsageError extends Error {}

/** `parseArgs` with YACI's usage errors: unknown flags, missing values, stray arguments. */
export function parseCommandLine<T extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: T, maxPositionals = Infinity) {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument starting with a '-'.*$/s, "."));
  }
  if (parsed.positionals.length > maxPositionals) throw new UsageError(`unexpected argument '${parsed.positionals[maxPositionals]}'`);
  return parsed;
}


// ---- yaci validate ----

const USAGE = `Usage: yaci validate [FILE] [--format text|json]

Checks FILE (default ./.yaci.yml) exactly as YACI checks it on a push.
  valid:    one line per job (name, image, timeout), exit 0
  invalid:  each problem as FILE:LINE:COL: message, then how to fix it, exit 1
  cannot read FILE, or a wrong option: exit 2

Options:
  --format text|json   json: {"file", "valid", "errors": [{line, column, message, hint, path}]}
                       or {"file", "valid": true, "config": <the normalized config>}
  -h, --help           show this help
`;

/** A config file read and parsed, with the text its errors point into. */
export interface LoadedConfig {
  /** The path as the user named it (relative to the working directory when inside it). */
  file: string;
  text: string;
  result: ParseResult;
}

/**
 * Reads and parses a `.yaci.yml`. Its size is checked before it is read (the parser's own limit);
 * a file that cannot be read at all is a {@link UsageError}.
 */
export async function loadConfig(path: string, cwd: string): Promise<LoadedConfig> {
  const abs = resolve(cwd, path);
  const shown = relative(cwd, abs).startsWith("..") ? abs : relative(cwd, abs) || path;
  let bytes: Buffer;
  try {
    const fh = await open(abs, "r");
    try {
      const { size, isFile } = await fh.stat().then((s) => ({ size: s.size, isFile: s.isFile() }));
      if (!isFile) throw Object.assign(new Error("not a file"), { code: "EISDIR" });
      if (size > CONFIG_LIMITS.fileBytes) return { file: shown, text: "", result: { ok: false, errors: [fileTooLarge(size)] } };
      bytes = await fh.readFile();
    } finally {
      await fh.close();
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === "ENOENT" ? "no such file" : e.code === "EISDIR" ? "it is a directory" : e.code === "EACCES" ? "permission denied" : e.message;
    throw new UsageError(`cannot read ${shown}: ${why}`);
  }
  return { file: shown, text: bytes.toString("utf8"), result: parseConfig(bytes) };
}

/** `FILE:LINE:COL: message`, the offending line with a caret, and the fix. */
export function formatProblems(loaded: LoadedConfig, errors: ConfigError[], io: Io, omitted = 0): string {
  const lines = loaded.text.split(/\r\n|\r|\n/);
  const out: string[] = [];
  for (const e of errors) {
    out.push(`${io.style("bold", `${loaded.file}:${e.line}:${e.column}:`)} ${io.style("red", "error:")} ${e.message}`);
    const source = lines[e.line - 1];
    if (source !== undefined && source.length <= 200) {
      const gutter = String(e.line).length;
      const pad = [...source.slice(0, Math.max(0, e.column - 1))].map((c) => (c === "\t" ? "\t" : " ")).join("");
      out.push(io.style("dim", `  ${e.line} | `) + source, `  ${" ".repeat(gutter)} | ${pad}${io.style("red", "^")}`);
    }
    if (e.hint) out.push(`  ${io.style("cyan", "how to fix:")} ${e.hint}`);
  }
  const n = errors.length + omitted;
  const more = omitted > 0 ? ` (${omitted} more not shown)` : "";
  out.push(`${n === 1 ? "1 problem" : `${n} problems`} in ${loaded.file}${more}`);
  return `${out.join("\n")}\n`;
}

/** One line per job: name, image and timeout, in columns. */
export function formatJobs(loaded: LoadedConfig, io: Io): string {
  if (!loaded.result.ok) return "";
  const jobs = loaded.result.config.jobs;
  const name = Math.max(...jobs.map((j) => j.name.length));
  const image = Math.max(...jobs.map((j) => j.image.length));
  const rows = jobs.map((j) => `${io.style("bold", j.name.padEnd(name))}  ${j.image.padEnd(image)}  timeout ${formatDuration(j.timeoutMs, "compact")}`);
  return `${rows.join("\n")}\n${io.style("green", "valid:")} ${loaded.file} (${jobs.length === 1 ? "1 job" : `${jobs.length} jobs`})\n`;
}

export async function validateCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandLine(args, { format: { type: "string", default: "text" } }, 1);
  if (values.help) {
    io.out(USAGE);
    return EXIT.ok;
  }
  if (values.format !== "text" && values.format !== "json") throw new UsageError(`--format must be text or json, got '${values.format}'`);
  const loaded = await loadConfig(positionals[0] ?? ".yaci.yml", io.cwd);
  const { result } = loaded;
  if (values.format === "json") {
    const doc = result.ok
      ? { file: loaded.file, valid: true, config: result.config }
      : { file: loaded.file, valid: false, errors: result.errors, ...(result.omitted ? { omitted: result.omitted } : {}) };
    io.out(`${JSON.stringify(doc, null, 2)}\n`);
  } else if (result.ok) {
    io.out(formatJobs(loaded, io));
  } else {
    io.out(formatProblems(loaded, result.errors, io, result.omitted));
  }
  return result.ok ? EXIT.ok : EXIT.failed;
}
