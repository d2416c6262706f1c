import type { CheckRunUpdate } from "../core/check-update.js";

/** Where a check run lives on GitHub. */
export interface CheckRunTarget {
  installationId: number;
  owner: string;
  repo: string;
}

/** The GitHub calls the reporter needs (a narrow port owned by its consumer; `github/` implements it). */
export interface CheckRunWriter {
  create(target: CheckRunTarget, u: CheckRunUpdate): Promise<number>;
  update(target: CheckRunTarget, checkRunId: number, u: CheckRunUpdate): Promise<void>;
  /** A check run created earlier for this run (matched by `external_id`), if any. */
  find(target: CheckRunTarget, sha: string, name: string, externalId: string): Promise<number | undefined>;
  /** A commit status mirroring the check run (`YACI_COMMIT_STATUSES=true`). */
  setStatus(target: CheckRunTarget, sha: string, status: CommitStatus): Promise<void>;
}

export interface CommitStatus {
  context: string;
  state: "pending" | "success" | "failure" | "error";
  description: string;
  targetUrl?: string;
}
