/**
 * The last `x-ratelimit-remaining` GitHub reported, per installation (fed by YaciOctokit's
 * response hook). The reporter reads it to drop intermediate updates when the budget runs low.
 */
export class RateLimitTracker {
  private readonly remaining = new Map<string, number>();
  private readonly listeners = new Set<(installationId: string, remaining: number) => void>();

  record(installationId: string, remaining: number): void {
    this.remaining.set(installationId, remaining);
    for (const fn of this.listeners) fn(installationId, remaining);
  }

  get(installationId: string | number): number | undefined {
    return this.remaining.get(String(installationId));
  }

  onChange(fn: (installationId: string, remaining: number) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

/** Shared by every Octokit of the process. */
export const rateLimits = new RateLimitTracker();
