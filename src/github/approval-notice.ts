import type { Notice } from "../core/run.js";
import type { Trigger } from "../core/trigger.js";

/** What a fork's pull request shows until a maintainer approves its head commit. */
export function approvalNotice(t: Trigger): Notice {
  const sha = t.sha.slice(0, 7);
  return {
    title: `Waiting for approval to test ${sha}`,
    summary:
      `This pull request comes from a fork${t.prAuthor ? `, opened by @${t.prAuthor}` : ""}, who does not have write ` +
      `access to this repository. YACI runs nothing from a fork until a maintainer approves it.\n\n` +
      `**To run the jobs for commit \`${t.sha}\`**, a maintainer (write access) comments \`/ok-to-test\` on the ` +
      `pull request. The approval covers exactly this commit: a later push needs a new \`/ok-to-test\`.\n\n` +
      `The jobs come from the base branch's \`.yaci.yml\`, and they receive nothing from YACI's environment.`,
    detailsUrl: t.prUrl,
  };
}
