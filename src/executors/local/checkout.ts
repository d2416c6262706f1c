import { execFile } from "node:child_process";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
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
}

/** Where git clones a repository from: github.com for api.github.com, else the host of GHE's `/api/v3`. */
export function gitUrl(apiUrl: string, owner: string, repo: string): string {
  const base = apiUrl.replace(/\/+$/, "");
  const web = base === "https://api.github.com" ? "https://github.com" : base.replace(/\/api\/v3$/, "");
  return `${web}/${owner}/${repo}.git`;
}

/** GitHub's tarball of the commit, streamed into `tar` (the archive never sits in memory). */
async function fromTarball(req: CheckoutRequest, fetchImpl: typeof fetch, signal?: AbortSignal): Promise<void> {
  const url = `${req.apiUrl.replace(/\/$/, "")}/repos/${req.owner}/${req.repo}/tarball/${req.sha}`;
  const res = await fetchImpl(url, {
    headers: { authorization: `token ${req.token}`, accept: "application/vnd.github+json", "user-agent": "yaci" },
    redirect: "follow",
    signal,
  });
  if (!res.ok || !res.body) throw new Error(`tarball: HTTP ${res.status}`);
  await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), tar.x({ cwd: req.dir, strip: 1 }), { signal });
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
  const git = (...args: string[]) => run("git", args, { cwd: req.dir, env, signal, maxBuffer: 1 << 20 });
  await git("init", "-q");
  await git("fetch", "-q", "--depth=1", gitUrl(req.apiUrl, req.owner, req.repo), req.sha);
  await git("-c", "advice.detachedHead=false", "checkout", "-q", "FETCH_HEAD");
  await rm(join(req.dir, ".git"), { recursive: true, force: true });
}

async function empty(dir: string): Promise<void> {
  for (const name of await readdir(dir)) if (name !== ".home") await rm(join(dir, name), { recursive: true, force: true });
}

/**
 * Puts the repository at exactly `sha` into `dir`: GitHub's tarball first, `git fetch` of the
 * commit when the tarball cannot be had (a GitHub-compatible server without archives, say).
 * Errors never quote the token.
 */
export async function checkout(req: CheckoutRequest, fetchImpl: typeof fetch = fetch, signal?: AbortSignal): Promise<void> {
  await mkdir(req.dir, { recursive: true });
  try {
    await fromTarball(req, fetchImpl, signal);
    return;
  } catch (tarballError) {
    if (signal?.aborted) throw tarballError;
    await empty(req.dir);
    try {
      await fromGit(req, signal);
    } catch (gitError) {
      const why = (e: unknown) => ((e as Error).message ?? String(e)).split(req.token).join("***").split("\n")[0];
      throw new Error(`could not download ${req.owner}/${req.repo}@${req.sha.slice(0, 7)} (${why(tarballError)}; git: ${why(gitError)})`);
    }
  }
}
