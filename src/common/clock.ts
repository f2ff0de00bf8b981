/**
 * Time, as the parts that run a node see it: the current time in ms since the epoch, and one-shot
 * timers. Injected rather than read from `Date.now` and `setTimeout`, so that the same shell runs on
 * the wall clock in production (`systemClock`) and on a simulated one in the deterministic
 * simulator, where time moves only when the simulation says so.
 */

/** Cancels a timer `Clock.after` set; nothing when it has run or was cancelled already. */
export type CancelTimer = () => void;

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `run` once, `ms` from now (at once, on a later turn, when `ms` is 0 or less). */
  after(ms: number, run: () => void): CancelTimer;
}

/** The wall clock and Node's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, run) {
    const timer = setTimeout(run, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
};

/** Resolves `ms` from now on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.after(ms, resolve));
}
