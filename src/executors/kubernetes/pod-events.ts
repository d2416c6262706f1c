import type { V1Pod } from "@kubernetes/client-node";
import { evaluateRun } from "./evaluate-run.js";
import { runStateOf, type ExecutorContext } from "./executor-context.js";
import type { WatchEventType } from "./job-informer.js";
import { RUN_ID_LABEL } from "./job-manifest.js";
import { resumeLogFollow } from "./resume-log-follow.js";
import type { RunState } from "./run-state.js";

function runIdOf(pod: V1Pod): string | undefined {
  return pod.metadata?.labels?.[RUN_ID_LABEL] ?? (pod.kind === "Job" ? pod.metadata?.name : undefined);
}

/** A complete list of the pods: any pod not in it is gone. */
export function onPodList(ctx: ExecutorContext, items: V1Pod[]): void {
  const seen = new Set<string>();
  for (const pod of items) {
    const id = runIdOf(pod);
    const name = pod.metadata?.name;
    if (!id || !name) continue;
    seen.add(name);
    runStateOf(ctx, id).pods.set(name, { pod, gone: false });
  }
  for (const s of [...ctx.states.values()]) {
    let changed = false;
    for (const [name, p] of s.pods) {
      if (!seen.has(name) && !p.gone) {
        p.gone = true;
        changed = true;
      }
    }
    if (changed) podsChanged(ctx, s);
    else if (s.job) evaluateRun(ctx, s);
    resumeLogFollow(ctx, s);
  }
}

export function onPodEvent(ctx: ExecutorContext, type: WatchEventType, pod: V1Pod): void {
  const id = runIdOf(pod);
  const name = pod.metadata?.name;
  if (!id || !name) return;
  const s = runStateOf(ctx, id);
  s.pods.set(name, { pod, gone: type === "DELETED" });
  podsChanged(ctx, s);
  resumeLogFollow(ctx, s);
}

function podsChanged(ctx: ExecutorContext, s: RunState): void {
  if (!s.job && !s.spec) {
    // Pods of a Job we have not seen (yet): keep live ones, forget deleted ones.
    for (const [name, p] of s.pods) if (p.gone) s.pods.delete(name);
    if (s.pods.size === 0 && !s.held) ctx.states.delete(s.id);
    return;
  }
  evaluateRun(ctx, s);
}
