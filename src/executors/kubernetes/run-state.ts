import type { V1Job, V1Pod } from "@kubernetes/client-node";
import type { RunSpec } from "../../core/run.js";

export interface PodState {
  pod: V1Pod;
  gone: boolean;
}

/** What this process knows of one run (one Job). */
export interface RunState {
  id: string;
  spec?: RunSpec;
  job?: V1Job;
  jobGone: boolean;
  pods: Map<string, PodState>;
  /** Present in the cluster when this process first listed it: reported through `recover()`. */
  held: boolean;
  /** `finished` was decided: nothing else is emitted for this run. */
  finishing: boolean;
  imagePull?: { key: string; since: Date };
  lastKey?: string;
  timer?: unknown;
  cancelRequested?: boolean;
  /** The checkout token, kept to mask it in saved logs. */
  token?: string;
  /** The log, saved early because the pod is being deleted (it would be gone at the end). */
  earlyLog?: Promise<void>;
  /** The Job ended before its pod's final status arrived: since when we wait for it. */
  podLagSince?: number;
}
