import type { Octokit } from "@octokit/rest";

/** The slice of an installation Octokit this reader calls. */
export interface ContentsOctokit {
  rest: { repos: Pick<Octokit["rest"]["repos"], "getContent"> };
}

export const CONFIG_PATH = ".yaci.yml";

/** `.yaci.yml` at exactly `sha`, or null when the repository has none (then YACI does nothing). */
export async function readConfig(octokit: ContentsOctokit, owner: string, repo: string, sha: string): Promise<string | null> {
  try {
    const { data } = await octokit.rest.repos.getContent({ owner, repo, path: CONFIG_PATH, ref: sha });
    const file = data as { type?: string; content?: string; encoding?: string };
    if (Array.isArray(data) || file.type !== "file" || typeof file.content !== "string") return null;
    return Buffer.from(file.content, (file.encoding as BufferEncoding) ?? "base64").toString("utf8");
  } catch (err) {
    if ((err as { status?: number }).status === 404) return null;
    throw err;
  }
}
