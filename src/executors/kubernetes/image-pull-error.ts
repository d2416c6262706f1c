import type { V1Pod } from "@kubernetes/client-node";
import { containerStatuses } from "./container-statuses.js";

/** Waiting reasons that mean the image cannot be pulled (after the grace period: the job fails). */
export const IMAGE_PULL_ERRORS = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable"]);

export interface ImagePullError {
  container: string;
  image: string;
  reason: string;
  message?: string;
}

/** The first container of the pod that cannot pull its image, if any. */
export function imagePullError(pod: V1Pod | undefined): ImagePullError | undefined {
  for (const s of containerStatuses(pod)) {
    const w = s.state?.waiting;
    if (w?.reason && IMAGE_PULL_ERRORS.has(w.reason)) {
      const specImage = [...(pod?.spec?.initContainers ?? []), ...(pod?.spec?.containers ?? [])].find((c) => c.name === s.name)?.image;
      return { container: s.name, image: specImage ?? s.image, reason: w.reason, ...(w.message ? { message: w.message } : {}) };
    }
  }
  return undefined;
}
