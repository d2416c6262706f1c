import type { JobObservation } from "../executor.js";
import type { PodState, RunState } from "./run-state.js";

/** The run's pod that tells its story: a live pod beats a deleted one; then the newest. */
export function newestPod(state: RunState): PodState | undefined {
  let best: PodState | undefined;
  for (const p of state.pods.values()) {
    if (!best) best = p;
    else {
      const a = new Date(String(best.pod.metadata?.creationTimestamp ?? 0)).getTime();
      const b = new Date(String(p.pod.metadata?.creationTimestamp ?? 0)).getTime();
      // A live pod beats a deleted one; then the newest.
      if ((best.gone && !p.gone) || (best.gone === p.gone && b > a)) best = p;
    }
  }
  return best;
}

/** The observation, naming the run's newest pod (for `GET /get`). */
export function withPod<T extends JobObservation>(state: RunState, o: T): T {
  const name = newestPod(state)?.pod.metadata?.name;
  return name ? { ...o, podName: name } : o;
}
