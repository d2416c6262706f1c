/**
 * Time, injectable: every module that waits, times out or stamps a date takes a `Clock` (or just
 * its `Timers`), so a test can drive time instead of sleeping. `systemClock` is the real one; its
 * timers are unref'd so a pending timer never keeps the process alive on its own.
 */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface Clock extends Timers {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export const systemClock: Clock = { ...realTimers, now: () => Date.now() };

/** Repeating timers (retention, catch-up): the global ones by default, a hand-fired fake in tests. */
export interface Intervals {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const realIntervals: Intervals = {
  setInterval: (fn, ms) => {
    const h = setInterval(fn, ms);
    h.unref?.();
    return h;
  },
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};
