/**
 * The fair queue: which waiting run starts next, and where each waiting run stands. Pure: every
 * executor feeds it what it knows (the local executor its own lists, the Kubernetes one the Jobs
 * it watches) and starts what it says.
 *
 * Order: between installations first (the one with the fewest running jobs goes first; a tie goes
 * to the installation whose oldest waiting job is the oldest), then between the repositories of
 * that installation (the same rule), then first come, first served. Limits: `maxRunning` jobs in
 * all, `maxRunningPerInstallation` per installation (an installation at its cap is passed over,
 * its jobs keep their place).
 */

/** A run waiting for a runner. */
export interface QueuedRun {
  id: string;
  /** The installation (GitHub App installation id; `0` for API runs). */
  installation: string;
  /** `owner/repo` (empty for API runs). */
  repository: string;
  /** When YACI accepted it, in ms since the epoch: its place in line. */
  acceptedAt: number;
}

/** A run holding a runner (started, or admitted and waiting for a node: it counts all the same). */
export interface RunningRun {
  installation: string;
  repository: string;
}

export interface QueueLimits {
  /** At most this many runs at once, all installations together (undefined: no limit). */
  maxRunning?: number;
  /** At most this many runs of one installation at once (undefined: no limit beyond fairness). */
  maxRunningPerInstallation?: number;
}

/** Where a waiting run stands: how many runs start before it, and how many of those are its installation's. */
export interface QueuePosition {
  ahead: number;
  aheadSameInstallation: number;
}

function byAge(a: QueuedRun, b: QueuedRun): number {
  return a.acceptedAt - b.acceptedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

interface Group {
  running: number;
  /** Waiting runs, oldest first. */
  waiting: QueuedRun[];
}

interface InstallationGroup extends Group {
  repos: Map<string, Group>;
}

/** The queue as groups (installation → repository → runs), with running counts. */
class Lines {
  readonly installations = new Map<string, InstallationGroup>();
  total = 0;

  constructor(queued: readonly QueuedRun[], running: readonly RunningRun[]) {
    for (const r of running) {
      const i = this.installation(r.installation);
      i.running++;
      this.repo(i, r.repository).running++;
      this.total++;
    }
    for (const q of [...queued].sort(byAge)) {
      const i = this.installation(q.installation);
      i.waiting.push(q);
      this.repo(i, q.repository).waiting.push(q);
    }
  }

  private installation(id: string): InstallationGroup {
    let g = this.installations.get(id);
    if (!g) this.installations.set(id, (g = { running: 0, waiting: [], repos: new Map() }));
    return g;
  }

  private repo(i: InstallationGroup, name: string): Group {
    let g = i.repos.get(name);
    if (!g) i.repos.set(name, (g = { running: 0, waiting: [] }));
    return g;
  }

  /** The next run by fairness (limits applied when `limits` is given), or undefined. */
  pick(limits?: QueueLimits): QueuedRun | undefined {
    if (limits?.maxRunning !== undefined && this.total >= limits.maxRunning) return undefined;
    const cap = limits?.maxRunningPerInstallation;
    const inst = fairest([...this.installations.values()].filter((g) => cap === undefined || g.running < cap));
    if (!inst) return undefined;
    const repo = fairest([...inst.repos.values()])!;
    return repo.waiting[0];
  }

  /** Counts `run` as started. */
  start(run: QueuedRun): void {
    const i = this.installations.get(run.installation)!;
    const repo = i.repos.get(run.repository)!;
    i.waiting.splice(i.waiting.indexOf(run), 1);
    repo.waiting.splice(repo.waiting.indexOf(run), 1);
    i.running++;
    repo.running++;
    this.total++;
  }
}

/** Among groups with waiting runs: the fewest running first, then the oldest waiting run. */
function fairest<G extends Group>(groups: G[]): G | undefined {
  let best: G | undefined;
  for (const g of groups) {
    if (g.waiting.length === 0) continue;
    if (!best || g.running < best.running || (g.running === best.running && byAge(g.waiting[0]!, best.waiting[0]!) < 0)) best = g;
  }
  return best;
}

/** The runs to start now, in order, within the limits (empty when none may start). */
export function admissions(queued: readonly QueuedRun[], running: readonly RunningRun[], limits: QueueLimits = {}): QueuedRun[] {
  const lines = new Lines(queued, running);
  const out: QueuedRun[] = [];
  for (let next = lines.pick(limits); next; next = lines.pick(limits)) {
    out.push(next);
    lines.start(next);
  }
  return out;
}

/** The one run that starts next, if any may start now. */
export function nextToStart(queued: readonly QueuedRun[], running: readonly RunningRun[], limits: QueueLimits = {}): QueuedRun | undefined {
  return new Lines(queued, running).pick(limits);
}

/**
 * The order in which the waiting runs are expected to start, if none of the running ones ended
 * first: fairness applied as each one starts. Limits only delay runs, so they are left out.
 */
export function queueOrder(queued: readonly QueuedRun[], running: readonly RunningRun[]): QueuedRun[] {
  const lines = new Lines(queued, running);
  const out: QueuedRun[] = [];
  for (let next = lines.pick(); next; next = lines.pick()) {
    out.push(next);
    lines.start(next);
  }
  return out;
}

/** Each waiting run's position (see `queueOrder`). */
export function queuePositions(queued: readonly QueuedRun[], running: readonly RunningRun[]): Map<string, QueuePosition> {
  const out = new Map<string, QueuePosition>();
  const seen = new Map<string, number>();
  queueOrder(queued, running).forEach((q, ahead) => {
    const own = seen.get(q.installation) ?? 0;
    out.set(q.id, { ahead, aheadSameInstallation: own });
    seen.set(q.installation, own + 1);
  });
  return out;
}

/** How often a queued check run's position may be written at most. */
export const POSITION_REFRESH_MS = 60_000;

/**
 * Whether a queued check run that shows `shown` (written `sinceMs` ago) should now show `next`:
 * the first position always; then only when it changed by at least half AND a minute has passed
 * (whichever is rarer), so a long queue costs few writes.
 */
export function shouldRefreshPosition(shown: QueuePosition | undefined, next: QueuePosition, sinceMs: number): boolean {
  if (!shown) return true;
  if (shown.ahead === next.ahead) return false;
  if (sinceMs < POSITION_REFRESH_MS) return false;
  return Math.abs(next.ahead - shown.ahead) * 2 >= shown.ahead;
}

/** What a waiting run's check run says: "Waiting for a runner: 7 jobs ahead (5 from acme)". */
export function describePosition(p: QueuePosition, installationName: string): string {
  if (p.ahead === 0) return "Waiting for a runner: next in line";
  const jobs = `${p.ahead} ${p.ahead === 1 ? "job" : "jobs"} ahead`;
  const own = p.aheadSameInstallation > 0 && installationName ? ` (${p.aheadSameInstallation} from ${installationName})` : "";
  return `Waiting for a runner: ${jobs}${own}`;
}

/**
 * The queue's limits from the environment: YACI_MAX_RUNNING (all jobs at once; YACI_LOCAL_CONCURRENCY
 * is its older name, still read) and YACI_MAX_RUNNING_PER_INSTALLATION (no cap unless set).
 * `fallbackMaxRunning` applies when neither is set (the local executor: the machine's cores).
 */
export function queueLimitsFromEnv(env: Record<string, string | undefined>, fallbackMaxRunning?: number): QueueLimits {
  const whole = (name: string): number | undefined => {
    const raw = env[name]?.trim();
    if (!raw) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number ≥ 1, got "${raw}"`);
    return n;
  };
  const maxRunning = whole("YACI_MAX_RUNNING") ?? whole("YACI_LOCAL_CONCURRENCY") ?? fallbackMaxRunning;
  const perInstallation = whole("YACI_MAX_RUNNING_PER_INSTALLATION");
  return { ...(maxRunning !== undefined ? { maxRunning } : {}), ...(perInstallation !== undefined ? { maxRunningPerInstallation: perInstallation } : {}) };
}
