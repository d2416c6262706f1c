import type { V1Pod } from "@kubernetes/client-node";
import { unschedulable } from "./condition.js";
import { containerStatuses } from "./container-statuses.js";
import type { ImagePullError } from "./image-pull-error.js";
import { shortText } from "./short-text.js";

/** Why a pending pod waits, for a person (nothing for the ordinary init/creation steps). */
export function waitingReason(pod: V1Pod | undefined, podGone: boolean, pull: ImagePullError | undefined): { waitingReason?: string } {
  if (!pod || podGone) return {};
  const u = unschedulable(pod);
  if (u) return { waitingReason: `unschedulable: ${shortText(u.message) ?? u.reason ?? "no node fits"}` };
  if (pull) return { waitingReason: `image ${pull.image}: ${pull.reason}` };
  for (const s of containerStatuses(pod)) {
    const w = s.state?.waiting;
    if (w?.reason && !["PodInitializing", "ContainerCreating"].includes(w.reason)) {
      return { waitingReason: `${w.reason}${shortText(w.message) ? `: ${shortText(w.message)}` : ""}` };
    }
  }
  return {};
}
