import { mkdir } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import * as tar from "tar";

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

/**
 * Fetches the repository at exactly `sha` into `dir`, streaming GitHub's tarball into `tar`
 * (the archive never sits in memory). Errors never quote the token.
 */
export async function checkout(req: CheckoutRequest, fetchImpl: typeof fetch = fetch, signal?: AbortSignal): Promise<void> {
  await mkdir(req.dir, { recursive: true });
  const url = `${req.apiUrl.replace(/\/$/, "")}/repos/${req.owner}/${req.repo}/tarball/${req.sha}`;
  const res = await fetchImpl(url, {
    headers: { authorization: `token ${req.token}`, accept: "application/vnd.github+json", "user-agent": "yaci" },
    redirect: "follow",
    signal,
  });
  if (!res.ok || !res.body) {
    throw new Error(`could not download ${req.owner}/${req.repo}@${req.sha.slice(0, 7)}: HTTP ${res.status}`);
  }
  await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), tar.x({ cwd: req.dir, strip: 1 }), { signal });
}
