/** An event that may run a commit's jobs, reduced to what YACI needs. */
export interface Trigger {
  event: "push" | "pull_request";
  installationId: number;
  owner: string;
  repo: string;
  sha: string;
  /** The ref checked out: `refs/heads/main`, or `refs/pull/7/head`. */
  ref: string;
  /** The branch `on:` filters match: the pushed branch, or a pull request's base branch. */
  branch: string;
  prNumber?: number;
  /** The pull request's head comes from another repository (a fork). */
  fromFork?: boolean;
  /** Who opened the pull request (login). */
  prAuthor?: string;
  /** The pull request's page. */
  prUrl?: string;
  /** Who caused the event (login). */
  actor?: string;
}

export type Skip = { skip: string };
export type TriggerResult = Trigger | Skip;

export function isSkip(t: TriggerResult): t is Skip {
  return "skip" in t;
}

const ZERO_SHA = /^0{40}$/;

interface PushLike {
  ref: string;
  after: string;
  deleted?: boolean;
  repository: { name: string; owner: { login?: string; name?: string | null } | null };
  installation?: { id: number } | null;
  sender?: { login: string } | null;
}

const SHA = /^[0-9a-f]{40}$/i;

/** A field a signed but malformed payload lacks (GitHub never sends one; a proxy or a replay might). */
function missing(field: string): Skip {
  return { skip: `malformed payload: ${field} is missing or not valid` };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isText = (v: unknown): v is string => typeof v === "string" && v.length > 0;

/** `push` → the pushed branch's head commit; skips deleted branches and tags. */
export function triggerFromPush(p: PushLike): TriggerResult {
  if (!isObject(p)) return missing("the payload");
  if (!p.installation?.id) return { skip: "no installation in the payload" };
  if (!isText(p.ref)) return missing("ref");
  if (!isText(p.after)) return missing("after");
  if (!isObject(p.repository) || !isText(p.repository.name)) return missing("repository");
  if (p.deleted || ZERO_SHA.test(p.after)) return { skip: "branch deleted" };
  if (!p.ref.startsWith("refs/heads/")) return { skip: `not a branch push (${p.ref})` };
  if (!SHA.test(p.after)) return missing("after");
  const owner = p.repository.owner?.login ?? p.repository.owner?.name;
  if (!owner) return { skip: "repository has no owner" };
  return {
    event: "push",
    installationId: p.installation.id,
    owner,
    repo: p.repository.name,
    sha: p.after,
    ref: p.ref,
    branch: p.ref.slice("refs/heads/".length),
    actor: p.sender?.login,
  };
}

interface PullRequestLike {
  action: string;
  number: number;
  pull_request: {
    html_url: string;
    user: { login: string } | null;
    head: { sha: string; repo: { full_name: string } | null };
    base: { ref: string; repo: { full_name: string } };
  };
  repository: { name: string; owner: { login: string } };
  installation?: { id: number } | null;
  sender?: { login: string } | null;
}

export const PULL_REQUEST_ACTIONS = ["opened", "synchronize", "reopened"] as const;

/** `pull_request` opened / synchronize / reopened → the pull request's head commit. */
export function triggerFromPullRequest(p: PullRequestLike): TriggerResult {
  if (!isObject(p)) return missing("the payload");
  if (!p.installation?.id) return { skip: "no installation in the payload" };
  if (!(PULL_REQUEST_ACTIONS as readonly string[]).includes(p.action)) return { skip: `action ${p.action}` };
  if (!isObject(p.repository) || !isText(p.repository.name) || !isText(p.repository.owner?.login)) return missing("repository");
  if (!Number.isInteger(p.number) || p.number <= 0) return missing("number");
  const bad = pullProblem(p.pull_request);
  if (bad) return bad;
  return triggerFromPull(p.installation.id, p.repository.owner.login, p.repository.name, p.number, p.pull_request, p.sender?.login);
}

/** What a pull request object lacks for a trigger, if anything (a null `pull_request`, a head without SHA…). */
export function pullProblem(pr: unknown): Skip | undefined {
  if (!isObject(pr)) return missing("pull_request");
  const head = pr.head as PullRequestLike["pull_request"]["head"] | undefined;
  const base = pr.base as PullRequestLike["pull_request"]["base"] | undefined;
  if (!isObject(head) || !isText(head.sha) || !SHA.test(head.sha)) return missing("pull_request.head.sha");
  if (!isObject(base) || !isText(base.ref)) return missing("pull_request.base.ref");
  if (!isObject(base.repo) || !isText(base.repo.full_name)) return missing("pull_request.base.repo");
  return undefined;
}

/** A pull request's head commit (from a webhook, or from `GET /pulls/{n}` for comment commands). */
export function triggerFromPull(
  installationId: number,
  owner: string,
  repo: string,
  number: number,
  pr: PullRequestLike["pull_request"],
  actor?: string,
): Trigger {
  return {
    event: "pull_request",
    installationId,
    owner,
    repo,
    sha: pr.head.sha,
    ref: `refs/pull/${number}/head`,
    branch: pr.base.ref,
    prNumber: number,
    fromFork: pr.head.repo?.full_name !== pr.base.repo.full_name,
    prAuthor: pr.user?.login,
    prUrl: pr.html_url,
    actor,
  };
}
