import type { Octokit } from "@octokit/rest";

export interface PermissionOctokit {
  rest: { repos: Pick<Octokit["rest"]["repos"], "getCollaboratorPermissionLevel"> };
}

/** Roles that may run commands and approve forks: write access or more. */
const WRITERS = new Set(["admin", "maintain", "write"]);

/** Does `user` have write access to the repository (as collaborator, team or org member)? */
export async function canWrite(octokit: PermissionOctokit, owner: string, repo: string, user: string | undefined): Promise<boolean> {
  if (!user) return false;
  try {
    const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({ owner, repo, username: user });
    return WRITERS.has(data.permission) || WRITERS.has(data.role_name);
  } catch (err) {
    if ((err as { status?: number }).status === 404) return false; // not a collaborator at all
    throw err;
  }
}
