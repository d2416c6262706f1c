/**
 * The local executor's secret store: YACI_SECRETS_DIR (default `$YACI_DATA_DIR/secrets`) holds one
 * dotenv file per owner (`<owner>.env`) and one per repository (`<owner>/<repo>.env`); for a job,
 * the repository's value of a name wins over the owner's. The directory is private (0700), the
 * files too (0600), and a file is replaced atomically (a temporary file, fsync, rename), so a
 * reader never sees half of one. Only this module and the `yaci secret` command write here.
 */
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import type { RunSpec } from "../core/run.js";
import { ENV_NAME_RE } from "../config/schema.js";
import { checkSecretName, scopeOf, type SecretScope } from "./scope.js";

/** YACI_SECRETS_DIR, else `<YACI_DATA_DIR>/secrets` (YACI_DATA_DIR's default: `.yaci`). */
export function localSecretsDir(env: Record<string, string | undefined>): string {
  return resolve(env.YACI_SECRETS_DIR?.trim() || join(env.YACI_DATA_DIR || ".yaci", "secrets"));
}

/** The values of a job's named secrets, once found. */
export type ResolvedSecrets = Record<string, string>;

export class LocalSecretStore {
  constructor(readonly dir: string) {}

  /** The file of a scope (the scope's names are checked: no path can leave `dir`). */
  fileOf(scope: SecretScope): string {
    const s = scopeOf(scope.owner, scope.repo);
    return s.repo === undefined ? join(this.dir, `${s.owner}.env`) : join(this.dir, s.owner, `${s.repo}.env`);
  }

  /** The secrets of one scope (none when it has no file). */
  read(scope: SecretScope): Map<string, string> {
    const file = this.fileOf(scope);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return new Map();
      throw new Error(`could not read the secrets file ${file}: ${(err as Error).message}`);
    }
    return parseDotenv(text, `the secrets file ${file}`);
  }

  /** The names of one scope's secrets, sorted. */
  list(scope: SecretScope): string[] {
    return [...this.read(scope).keys()].sort();
  }

  set(scope: SecretScope, name: string, value: string): void {
    checkSecretName(name);
    if (value.includes("\0")) throw new Error("a secret's value cannot contain a NUL character (no environment variable can)");
    const values = this.read(scope);
    values.set(name, value);
    this.write(scope, values);
  }

  /** Deletes one secret; false when the scope had no secret of that name. */
  delete(scope: SecretScope, name: string): boolean {
    checkSecretName(name);
    const values = this.read(scope);
    if (!values.delete(name)) return false;
    if (values.size === 0) rmSync(this.fileOf(scope), { force: true });
    else this.write(scope, values);
    return true;
  }

  /**
   * The values of `names` for a job of `owner/repo` (the repository's file wins over the owner's).
   * Throws an Error naming each missing secret and both files it was looked for in.
   */
  resolve(owner: string, repo: string, names: readonly string[]): ResolvedSecrets {
    const repoScope = scopeOf(owner, repo);
    const ownerScope = scopeOf(owner);
    const fromRepo = this.read(repoScope);
    const fromOwner = this.read(ownerScope);
    const out: ResolvedSecrets = {};
    const missing: string[] = [];
    for (const name of names) {
      const value = fromRepo.get(name) ?? fromOwner.get(name);
      if (value === undefined) missing.push(name);
      else out[name] = value;
    }
    if (missing.length) {
      const what = missing.length === 1 ? `secret ${missing[0]} does not exist` : `secrets ${missing.join(", ")} do not exist`;
      throw new Error(`${what}: looked for in ${this.fileOf(repoScope)} and ${this.fileOf(ownerScope)} (set one with \`yaci secret set ${owner}/${repo} ${missing[0]}\`)`);
    }
    return out;
  }

  /** The job's secrets, unless they are withheld (a fork's pull request) or it names none. */
  forRun(spec: RunSpec): ResolvedSecrets {
    if (!spec.secrets?.length || spec.secretsWithheld) return {};
    return this.resolve(spec.key.owner, spec.key.repo, spec.secrets);
  }

  /** Replaces the scope's file atomically: a private temporary file, fsync, rename, fsync of the directory. */
  private write(scope: SecretScope, values: ReadonlyMap<string, string>): void {
    const file = this.fileOf(scope);
    const dir = scope.repo === undefined ? this.dir : join(this.dir, scope.owner.toLowerCase());
    for (const d of new Set([this.dir, dir])) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
      chmodSync(d, 0o700);
    }
    const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
    const fd = openSync(tmp, "wx", 0o600);
    try {
      writeSync(fd, formatDotenv(values));
      fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw err;
    }
    closeSync(fd);
    renameSync(tmp, file);
    const dfd = openSync(dir, "r");
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }
}

// ---- the files' format --------------------------------------------------------------------
// A strict dotenv parser and a writer whose output it reads back exactly, whatever the value
// holds (newlines, quotes, backslashes, `#`, `$`). Read: blank lines and `# comments`;
// `NAME=value` (an optional `export ` before it); the value unquoted (trimmed, up to ` #`), in
// single quotes (literal, may span lines) or in double quotes (JSON's escapes: `\n`, `\"`, `\\`,
// `\t`, `\uXXXX`…; may span lines). Anything else is an error that names the line (never the
// value): a broken file never yields a half-read secret. Written: `NAME="…"` with JSON's escapes.

/** Parses a dotenv text; throws an Error naming `source` and the line of the first problem. */
export function parseDotenv(text: string, source = "the file"): Map<string, string> {
  const out = new Map<string, string>();
  const t = text.replace(/^\uFEFF/, "");
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`${source}, line ${t.slice(0, i).split("\n").length}: ${why}`);
  };
  while (i < t.length) {
    const end = t.indexOf("\n", i) < 0 ? t.length : t.indexOf("\n", i);
    const raw = t.slice(i, end);
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) {
      i = end + 1;
      continue;
    }
    const m = /^\s*(?:export\s+)?([^=\s]+)\s*=[ \t]*/.exec(raw);
    if (!m) fail("expected NAME=value");
    const name = m![1]!;
    if (!ENV_NAME_RE.test(name)) fail(`"${name}" is not a valid variable name`);
    let pos = i + m![0].length;
    const quote = t[pos];
    let value: string;
    if (quote === '"' || quote === "'") {
      let j = pos + 1;
      while (j < t.length && t[j] !== quote) j += quote === '"' && t[j] === "\\" ? 2 : 1;
      if (j >= t.length) fail(`the value of ${name} has no closing ${quote}`);
      const body = t.slice(pos + 1, j);
      if (quote === "'") value = body;
      else {
        try {
          value = JSON.parse(`"${body.replace(/\r/g, "\\r").replace(/\n/g, "\\n").replace(/\t/g, "\\t")}"`) as string;
        } catch {
          value = fail(`the value of ${name} has an invalid escape (use \\n, \\", \\\\, \\t or \\uXXXX)`);
        }
      }
      pos = j + 1;
      const restEnd = t.indexOf("\n", pos) < 0 ? t.length : t.indexOf("\n", pos);
      const rest = t.slice(pos, restEnd).trim();
      if (rest !== "" && !rest.startsWith("#")) fail(`unexpected text after the quoted value of ${name}`);
      i = restEnd + 1;
    } else {
      const rest = t.slice(pos, end);
      const hash = rest.search(/\s#/);
      value = (hash < 0 ? rest : rest.slice(0, hash)).trim();
      i = end + 1;
    }
    out.set(name, value);
  }
  return out;
}

/** Writes secrets as dotenv text that `parseDotenv` reads back exactly (names sorted). */
export function formatDotenv(values: ReadonlyMap<string, string>): string {
  const names = [...values.keys()].sort();
  return names.map((name) => `${name}=${JSON.stringify(values.get(name))}\n`).join("");
}
