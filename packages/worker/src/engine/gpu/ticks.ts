/**
 * Sleeping while Dawn works. dawn.node's AsyncRunner keeps every pending promise (mapAsync,
 * onSubmittedWorkDone, pipeline compiles, error scopes) moving by re-queueing a native callback
 * with the global `setImmediate` after each `device.Tick()`: on a backend that runs
 * asynchronously (Vulkan) the waiting thread then spins at ~100 % of a core for the whole
 * attempt. It looks `setImmediate` up on the global object at each tick, so routing its native
 * callbacks through a 1 ms `setTimeout` turns the spin into ~1,000 cheap polls per second, with at
 * most ~1 ms added to a wait. Where a wait is known to be short — right after a submit (a
 * fraction of a millisecond on a big GPU), and when popping error scopes, which Dawn answers at
 * its next tick — expectShortWait() keeps the real `setImmediate` for SPIN_WINDOW_MS, so such a
 * wait is not stretched to a whole timer period. JavaScript callbacks always get the real
 * `setImmediate`.
 */

export type TickMode = "sleep" | "spin";

type SetImmediate = typeof globalThis.setImmediate;

/** Delay between two Dawn ticks while something is pending. */
export const TICK_DELAY_MS = 1;
/** How long after a submit ticks still spin (a short wait costs little CPU and no timer latency). */
export const SPIN_WINDOW_MS = 0.5;

let original: SetImmediate | undefined;
let nativeTicks = 0;
let spinUntil = 0;

/** The next SPIN_WINDOW_MS of ticks spin: for waits known to be short (after a submit, error scopes). */
export function expectShortWait(): void {
  spinUntil = performance.now() + SPIN_WINDOW_MS;
}

/** Dawn's tick is a native function; JavaScript callbacks keep the real setImmediate. */
export const routedThroughTimer = (fn: unknown): boolean => typeof fn === "function" && Function.prototype.toString.call(fn).includes("[native code]");

/** Installs (once per thread) or removes the sleeping tick; "spin" is dawn.node's own behaviour. */
export function setTickMode(mode: TickMode): void {
  if (mode === "spin") {
    if (original) globalThis.setImmediate = original;
    original = undefined;
    return;
  }
  if (original) return;
  const real = globalThis.setImmediate;
  original = real;
  const sleepy = function (this: unknown, callback: (...args: unknown[]) => void, ...args: unknown[]) {
    if (routedThroughTimer(callback) && performance.now() >= spinUntil) {
      nativeTicks++;
      return setTimeout(callback, TICK_DELAY_MS, ...args);
    }
    return real(callback, ...args);
  };
  globalThis.setImmediate = Object.assign(sleepy, real) as unknown as SetImmediate;
}

export function tickMode(): TickMode {
  return original ? "sleep" : "spin";
}

/** Native ticks routed through setTimeout so far in this thread (tests check the path is used). */
export function sleptTicks(): number {
  return nativeTicks;
}
