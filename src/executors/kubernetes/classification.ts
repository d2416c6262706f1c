import type { JobObservation } from "../executor.js";
import type { ImagePullError } from "./image-pull-error.js";

/** What `classify` decides for one run: keep observing it, or it has finished. */
export type Classification =
  | {
      kind: "observe";
      observation: Extract<JobObservation, { phase: "pending" | "running" }>;
      /** Classify again at this time even if nothing changes (a grace period or timeout ends). */
      recheckAt?: Date;
      /** Present while a container cannot pull its image: the caller tracks since when. */
      imagePullError?: ImagePullError;
    }
  | {
      kind: "finish";
      observation: Extract<JobObservation, { phase: "finished" }>;
      /** YACI ends the Job itself (image pull failure, pending timeout): delete it. */
      deleteJob: boolean;
      /** The container whose log to save, when it ran. */
      log?: { pod: string; container: string };
      /**
       * The Job has ended but its pod, as last seen, still looks alive: Jobs and Pods come on two
       * watch streams, so the pod's final status may still be on its way. Worth a short wait.
       */
      podLagging?: boolean;
    };

export type FinishClassification = Extract<Classification, { kind: "finish" }>;
export type ObserveClassification = Extract<Classification, { kind: "observe" }>;
