/** GitHub's content-creation budget per installation: 80 requests a minute, 500 an hour. */
export const WRITE_WINDOWS = [
  { limit: 80, ms: 60_000 },
  { limit: 500, ms: 3_600_000 },
] as const;

interface Window {
  limit: number;
  ms: number;
}

/**
 * A per-installation limiter for mutating requests, in the shape `@octokit/plugin-throttling`
 * takes as its `write` group (`.key(id).schedule(options, fn)`): requests go out at once, in
 * bursts, as long as no sliding window holds more than its limit; past that they wait.
 * (The plugin's own write group spaces every request one second apart.)
 */
export class WriteBudget {
  private readonly sent = new Map<string, number[]>();
  private readonly waiting = new Map<string, Promise<void>>();

  constructor(
    private readonly windows: readonly Window[] = WRITE_WINDOWS,
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  /** How long until one more request fits (0 = now). */
  delayFor(id: string): number {
    const times = this.sent.get(id) ?? [];
    const t = this.now();
    let delay = 0;
    for (const w of this.windows) {
      const inWindow = times.filter((x) => x > t - w.ms);
      if (inWindow.length >= w.limit) delay = Math.max(delay, inWindow[inWindow.length - w.limit]! + w.ms - t + 1);
    }
    return delay;
  }

  private async acquire(id: string): Promise<void> {
    // One waiter at a time per installation keeps the order of requests.
    const prev = this.waiting.get(id) ?? Promise.resolve();
    const mine = prev.then(async () => {
      for (let d = this.delayFor(id); d > 0; d = this.delayFor(id)) await this.sleep(d);
      const maxMs = Math.max(...this.windows.map((w) => w.ms));
      const times = (this.sent.get(id) ?? []).filter((x) => x > this.now() - maxMs);
      times.push(this.now());
      this.sent.set(id, times);
    });
    this.waiting.set(id, mine);
    await mine;
    if (this.waiting.get(id) === mine) this.waiting.delete(id);
  }

  key(id: string) {
    return {
      schedule: async <T>(_options: object, fn: () => Promise<T>): Promise<T> => {
        await this.acquire(id);
        return fn();
      },
    };
  }
}
