/**
 * What the queue looks like from outside: a queued run's position on its check run (refreshed
 * rarely, and only with room in the installation's write budget: final results first) and the
 * queue's depth and wait times for the metrics. Runs held for their `needs:` do not wait for a
 * runner and are not counted. Used by the scheduler.
 */
import type { JobObservation } from "../executors/executor.js";
import type { RunRecord } from "../core/run.js";
import { shouldRefreshPosition } from "../core/queue-policy.js";
import type { RunStore } from "./run-store.js";
import { isHeld } from "./pipeline-gate.js";

export interface QueueViewEvents {
  /** How many runs wait for the executor (queued). */
  queueChanged?(depth: number): void;
  /** Runs waiting for a runner, per installation (every installation that had some, 0 once empty). */
  queueDepthByInstallation?(depths: Map<string, number>): void;
  /** A run got a runner (or ended waiting) after waiting this long since it was accepted. */
  queueWait?(installation: string, seconds: number): void;
}

export class QueueView {
  /** When each queued run's position was last put on its record (to refresh it rarely). */
  private readonly positionShownAt = new Map<string, number>();
  /** Installations that had runs waiting at the last count, for the per-installation depth. */
  private readonly queuedInstallations = new Set<string>();

  constructor(
    private readonly store: RunStore,
    private readonly now: () => Date,
    private readonly events: QueueViewEvents | undefined,
    /** Whether the run's installation has room in its write budget for a new position (default: always). */
    private readonly headroom?: (r: RunRecord) => boolean,
  ) {}

  /** A queued run's new position applies only when `shouldRefreshPosition` and the budget allow it. */
  throttle(o: JobObservation): JobObservation {
    if (o.phase !== "pending" || !o.queuePosition) return o;
    const r = this.store.get(o.runId);
    if (!r || r.phase !== "queued") return o;
    const now = this.now().getTime();
    const since = now - (this.positionShownAt.get(o.runId) ?? 0);
    if (shouldRefreshPosition(r.queuePosition, o.queuePosition, since) && (this.headroom?.(r) ?? true)) {
      if (r.queuePosition?.ahead !== o.queuePosition.ahead) this.positionShownAt.set(o.runId, now);
      return o;
    }
    const { queuePosition: _dropped, ...rest } = o;
    return rest;
  }

  /** A run changed phase (from `before` to `after`): its wait is measured and the queue counted again. */
  phaseChanged(before: RunRecord, after: RunRecord): void {
    this.positionShownAt.delete(after.spec.id);
    if (before.phase === "queued") {
      const since = Date.parse(before.spec.acceptedAt ?? before.createdAt);
      const until = Date.parse(after.startedAt ?? after.finishedAt ?? this.now().toISOString());
      if (!before.spec.notice && !isHeld(before) && Number.isFinite(since)) {
        this.events?.queueWait?.(String(before.spec.installationId), Math.max(0, (until - since) / 1000));
      }
    }
    this.count();
  }

  /** Tells the queue depth, in all and per installation (metrics: 0 for those emptied). */
  private count(): void {
    const queued = this.store.list((x) => x.phase === "queued" && !isHeld(x));
    this.events?.queueChanged?.(queued.length);
    if (!this.events?.queueDepthByInstallation) return;
    const depths = new Map([...this.queuedInstallations].map((id) => [id, 0]));
    this.queuedInstallations.clear();
    for (const r of queued) {
      const id = String(r.spec.installationId);
      depths.set(id, (depths.get(id) ?? 0) + 1);
      this.queuedInstallations.add(id);
    }
    this.events.queueDepthByInstallation(depths);
  }
}
