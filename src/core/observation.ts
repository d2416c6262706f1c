import type { Outcome } from "./status.js";

/** What an executor saw of one run. Observations may repeat; consumers must be idempotent. */
export type JobObservation =
  | { runId: string; podName?: string; phase: "pending"; waitingReason?: string }
  | { runId: string; podName?: string; phase: "running"; startedAt: Date }
  | {
      runId: string;
      /** The Kubernetes pod the run is in, when there is one (shown by `GET /get`). */
      podName?: string;
      phase: "finished";
      outcome: Outcome;
      finishedAt: Date;
      startedAt?: Date;
      exitCode?: number;
      /** A sentence for a person: "out of memory (limit 1Gi)", "image x could not be pulled". */
      message?: string;
    };
