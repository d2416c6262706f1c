import { podLogParams } from "./pod-log-params.js";
import { apiMessage } from "./api-error.js";
import { track, type ExecutorContext } from "./executor-context.js";
import { newestPod } from "./newest-pod.js";
import { saveFinalLog } from "./pod-logs.js";
import type { RunState } from "./run-state.js";
import { stopLogFollow } from "./stop-log-follow.js";

export type LogTarget = { pod: string; container: string };

/**
 * Saves the run's log to the LogStore before `finished` goes out: one bounded `pods/log`
 * read of the container that ran, then `note` (YACI's own explanation) when there is one.
 * The checkout token, when the run had one, is masked.
 */
export async function saveRunLog(ctx: ExecutorContext, state: RunState, target: LogTarget | undefined, note: string): Promise<void> {
  const { d } = ctx;
  if (!target) {
    if (note || (await d.logStore.size(state.id)) === 0) await d.logStore.write(state.id, note);
    return;
  }
  try {
    await saveFinalLog({
      ...podLogParams(ctx, state, target),
      ...(note ? { trailer: note } : {}),
    });
  } catch (err) {
    const msg = `yaci: the log of ${target.container} could not be read from Kubernetes: ${apiMessage(err)}\n`;
    d.log?.warn(`kubernetes: ${state.id}: ${msg.trim()}`);
    await d.logStore.write(state.id, msg + note);
  }
}

/** The main container of the run's live pod, once it has started: its log can be read now. */
export function runningLogTarget(state: RunState): LogTarget | undefined {
  const p = newestPod(state);
  const name = p?.pod.metadata?.name;
  if (!p || p.gone || !name) return undefined;
  const main = p.pod.status?.containerStatuses?.find((s) => s.name === "main");
  return main?.state?.running || main?.state?.terminated ? { pod: name, container: "main" } : undefined;
}

/** A pod being deleted (deadline, eviction, drain) takes its log along: read it now (the live copy stops first). */
export function saveLogEarlyIfPodIsGoing(ctx: ExecutorContext, state: RunState): void {
  const p = newestPod(state);
  if (state.earlyLog || !p || p.gone || !p.pod.metadata?.deletionTimestamp) return;
  const target = runningLogTarget(state);
  if (target) state.earlyLog = track(ctx, stopLogFollow(ctx, state.id).then(() => saveRunLog(ctx, state, target, "")));
}
