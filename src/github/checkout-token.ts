import type { Octokit } from "@octokit/rest";
import type { RunSpec } from "../core/run.js";

/** The slice of the app-authenticated (JWT) Octokit this minting calls. */
export interface AppOctokit {
  rest: { apps: Pick<Octokit["rest"]["apps"], "createInstallationAccessToken"> };
}

/**
 * A token for checking out one repository: scoped to that repository alone, `contents: read`
 * alone, so a job (or a log) that leaks it exposes nothing else.
 */
export function checkoutTokenSource(appOctokit: () => Promise<AppOctokit>) {
  return async (spec: RunSpec): Promise<string> => {
    const octokit = await appOctokit();
    const { data } = await octokit.rest.apps.createInstallationAccessToken({
      installation_id: spec.installationId,
      repositories: [spec.key.repo],
      permissions: { contents: "read" },
    });
    return data.token;
  };
}
