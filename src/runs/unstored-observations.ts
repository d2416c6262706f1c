/**
 * Observations whose new state could not be stored (`store.put` threw: a full disk), kept in
 * arrival order per run and applied again on a timer and before the next observation: never
 * dropped, never reordered within a run. Used by the scheduler.
 */
import type { JobObservation } from "../executors/executor.js";
import { realTimers, type Timers } from "../clock.js";

export class UnstoredObservations {
  private readonly pending = new Map<string, JobObservation[]>();
  private retry: { handle: unknown; failures: number } | undefined;

  /**
   * @param apply stores one observation's new state; false when the store still fails.
   * @param delaysMs waits before trying again; the last one repeats (default 1 s → 30 s).
   */
  constructor(
    private readonly apply: (o: JobObservation) => boolean,
    private readonly timers: Timers = realTimers,
    private readonly delaysMs: number[] = [1_000, 2_000, 5_000, 10_000, 30_000],
  ) {}

  /** Applies `o` behind any earlier unstored ones of its run; keeps it when it cannot be stored. */
  offer(o: JobObservation): void {
    if (this.pending.size > 0) this.flush();
    const waiting = this.pending.get(o.runId);
    if (waiting) return void waiting.push(o); // behind the earlier ones of its run, in order
    if (!this.apply(o)) {
      this.pending.set(o.runId, [o]);
      this.retryLater();
    }
  }

  /** Applies what could not be stored before, in order; false while the store still fails. */
  private flush(): boolean {
    for (const [runId, list] of [...this.pending]) {
      while (list.length > 0 && this.apply(list[0]!)) list.shift();
      if (list.length === 0) this.pending.delete(runId);
      else return false;
    }
    return true;
  }

  private retryLater(): void {
    if (this.retry?.handle !== undefined) return;
    const failures = (this.retry?.failures ?? 0) + 1;
    const handle = this.timers.setTimeout(() => {
      this.retry = this.flush() ? undefined : { handle: undefined, failures };
      if (this.retry) this.retryLater();
    }, this.delaysMs[Math.min(failures, this.delaysMs.length) - 1] ?? 30_000);
    this.retry = { failures, handle };
  }

  close(): void {
    if (this.retry?.handle !== undefined) this.timers.clearTimeout(this.retry.handle);
    this.retry = undefined;
  }
}
