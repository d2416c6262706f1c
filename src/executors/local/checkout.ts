import { execFile } from "node:child_process";
import { lstat, mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { promisify } from "node:util";
import * as tar from "tar";

const run = promisify(execFile);

export interface CheckoutRequest {
  /** GitHub's REST base URL, e.g. https://api.github.com or http://127.0.0.1:9000/api/v3 */
  apiUrl: string;
  owner: string;
  repo: string;
  sha: string;
  /** A token scoped to this one repository with `contents: read`. */
  token: string;
  dir: string;
  /** The checkout's files may take at most this many bytes (YACI_CHECKOUT_MAX_BYTES; default 2 GiB). */
  maxBytes?: number;
  /** Waits before asking again for a tarball GitHub answered 5xx or 429 (or did not answer at all). */
  retryDelaysMs?: readonly number[];
}

/**
 * How long to wait before each new try of a request GitHub answered 5xx or 429, or did not answer:
 * a moment of trouble on GitHub's side must not fail a job (about 30 s in all, then it does).
 */
export const TRANSIENT_RETRY_DELAYS_MS: readonly number[] = [1_000, 2_000, 4_000, 8_000, 16_000];

/** A failure worth trying again: no answer at all, or 5xx, 408 or 429 (`status` of Octokit's errors, or ours). */
export function transientGitHubError(err: unknown): boolean {
  if (err instanceof TransientError) return true;
  const status = (err as { status?: unknown } | undefined)?.status;
  if (typeof status === "number") return status >= 500 || status === 408 || status === 429;
  const name = (err as { name?: unknown } | undefined)?.name;
  return err instanceof TypeError || name === "TimeoutError" || name === "HttpError"; // fetch failed / Octokit without a status
}

/**
 * Calls `fn` until it succeeds, fails in a way `transient` says will not get better, or the
 * delays run out; an abort (the job was cancelled or timed out) stops the waiting at once.
 */
export async function withRetries<T>(
  fn: () => Promise<T>,
  opts: { delaysMs?: readonly number[]; signal?: AbortSignal; transient?: (err: unknown) => boolean; onRetry?: (err: unknown, waitMs: number) => void } = {},
): Promise<T> {
  const delays = opts.delaysMs ?? TRANSIENT_RETRY_DELAYS_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const wait = delays[attempt];
      if (wait === undefined || opts.signal?.aborted || !(opts.transient ?? transientGitHubError)(err)) throw err;
      opts.onRetry?.(err, wait);
      await sleep(wait, undefined, { signal: opts.signal });
    }
  }
}

/** A tarball request GitHub answered 5xx/408/429, or did not answer: asked again before falling back to git. */
class TransientError extends Error {}

/** The default of YACI_CHECKOUT_MAX_BYTES. */
export const DEFAULT_CHECKOUT_MAX_BYTES = 2 * 1024 ** 3;

/** How often the `git fetch` fallback's files are measured against the limit. */
const SIZE_CHECK_MS = 250;

/** The commit is larger than the limit: trying another way would not help. */
class TooLarge extends Error {
  constructor(max: number) {
    super(`the repository at this commit is larger than YACI_CHECKOUT_MAX_BYTES (${max} bytes)`);
  }
}

/** The bytes the files under `dir` take (directories and links not counted). */
async function sizeOf(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    if (!e.isFile()) continue;
    try {
      total += (await lstat(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))).size;
    } catch {
      // removed meanwhile (git's temporary files)
    }
  }
  return total;
}

/** Where git clones a repository from: github.com for api.github.com, else the host of GHE's `/api/v3`. */
export function gitUrl(apiUrl: string, owner: string, repo: string): string {
  const base = apiUrl.replace(/\/+$/, "");
  const web = base === "https://api.github.com" ? "https://github.com" : base.replace(/\/api\/v3$/, "");
  return `${web}/${owner}/${repo}.git`;
}

/** GitHub's tarball of the commit, streamed into `tar` (the archive never sits in memory). */
async function fromTarball(req: CheckoutRequest, fetchImpl: typeof fetch, signal?: AbortSignal): Promise<void> {
  const max = req.maxBytes ?? DEFAULT_CHECKOUT_MAX_BYTES;
  const url = `${req.apiUrl.replace(/\/$/, "")}/repos/${req.owner}/${req.repo}/tarball/${req.sha}`;
  let res: Response;
  try {
    res = await fetchImpl(url, {
      headers: { authorization: `token ${req.token}`, accept: "application/vnd.github+json", "user-agent": "yaci" },
      redirect: "follow",
      signal,
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new TransientError(`tarball: ${(err as Error).message}`); // no answer (refused, reset)
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => undefined);
    const transient = res.status >= 500 || res.status === 408 || res.status === 429;
    throw transient ? new TransientError(`tarball: HTTP ${res.status}`) : new Error(`tarball: HTTP ${res.status}`);
  }
  // Counted as the archive's entries are unpacked (node-tar also refuses a 1000:1 compression ratio).
  const tooLarge = new AbortController();
  let total = 0;
  const filter = (_path: string, entry: unknown) => {
    total += (entry as { size?: number }).size ?? 0;
    if (total > max) tooLarge.abort();
    return total <= max;
  };
  const both = signal ? AbortSignal.any([signal, tooLarge.signal]) : tooLarge.signal;
  try {
    await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), tar.x({ cwd: req.dir, strip: 1, filter }), { signal: both });
  } catch (err) {
    if (tooLarge.signal.aborted) throw new TooLarge(max);
    throw err;
  }
}

/** `git fetch` of exactly that commit; the token goes in a header, never in a URL or an argument list a log shows. */
async function fromGit(req: CheckoutRequest, signal?: AbortSignal): Promise<void> {
  const basic = Buffer.from(`x-access-token:${req.token}`).toString("base64");
  const env = {
    PATH: process.env.PATH,
    HOME: req.dir,
    GIT_TERMINAL_PROMPT: "0",
    // git reads extra config from the environment: the header stays out of `ps` and of .git/config.
    GIT_CONFIG_COUNT: "1",
    GIT_CONFIG_KEY_0: "http.extraHeader",
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
  };
  // git has no size limit of its own for a fetch: what it writes is measured while it runs.
  const max = req.maxBytes ?? DEFAULT_CHECKOUT_MAX_BYTES;
  const tooLarge = new AbortController();
  const both = signal ? AbortSignal.any([signal, tooLarge.signal]) : tooLarge.signal;
  let measuring = false;
  const measure = async () => {
    if (measuring || tooLarge.signal.aborted) return;
    measuring = true;
    try {
      if ((await sizeOf(req.dir)) > max) tooLarge.abort();
    } finally {
      measuring = false;
    }
  };
  const timer = setInterval(() => void measure(), SIZE_CHECK_MS);
  const git = (...args: string[]) => run("git", args, { cwd: req.dir, env, signal: both, maxBuffer: 1 << 20 });
  try {
    await git("init", "-q");
    await git("fetch", "-q", "--depth=1", gitUrl(req.apiUrl, req.owner, req.repo), req.sha);
    await measure();
    if (tooLarge.signal.aborted) throw new TooLarge(max);
    await git("-c", "advice.detachedHead=false", "checkout", "-q", "FETCH_HEAD");
    await rm(join(req.dir, ".git"), { recursive: true, force: true });
    await measure();
    if (tooLarge.signal.aborted) throw new TooLarge(max);
  } catch (err) {
    if (tooLarge.signal.aborted) throw new TooLarge(max);
    throw err;
  } finally {
    clearInterval(timer);
  }
}

async function empty(dir: string): Promise<void> {
  for (const name of await readdir(dir)) if (name !== ".home") await rm(join(dir, name), { recursive: true, force: true });
}

/**
 * Puts the repository at exactly `sha` into `dir`: GitHub's tarball first (asked again, with
 * backoff, while GitHub answers 5xx or 429), `git fetch` of the commit when the tarball cannot be
 * had (a GitHub-compatible server without archives, say).
 * Either way the files may take at most `maxBytes`; whatever fails leaves `dir` empty (no
 * partial files). Errors never quote the token.
 */
export async function checkout(req: CheckoutRequest, fetchImpl: typeof fetch = fetch, signal?: AbortSignal): Promise<void> {
  await mkdir(req.dir, { recursive: true });
  try {
    await withRetries(
      async () => {
        try {
          await fromTarball(req, fetchImpl, signal);
        } catch (err) {
          await empty(req.dir);
          throw err;
        }
      },
      { delaysMs: req.retryDelaysMs ?? TRANSIENT_RETRY_DELAYS_MS, signal, transient: (err) => err instanceof TransientError },
    );
    return;
  } catch (tarballError) {
    await empty(req.dir);
    if (signal?.aborted) throw tarballError;
    if (tarballError instanceof TooLarge) throw new Error(`could not download ${req.owner}/${req.repo}@${req.sha.slice(0, 7)}: ${tarballError.message}`);
    try {
      await fromGit(req, signal);
    } catch (gitError) {
      await empty(req.dir);
      const why = (e: unknown) => ((e as Error).message ?? String(e)).split(req.token).join("***").split("\n")[0];
      throw new Error(`could not download ${req.owner}/${req.repo}@${req.sha.slice(0, 7)} (${why(tarballError)}; git: ${why(gitError)})`);
    }
  }
}
