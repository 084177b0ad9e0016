/**
 * Size autotuner: picks, from a list of presets, the sizes whose attempt takes closest to a
 * target wall time, and re-picks when the measured time drifts away from it.
 *
 * It is a pure state machine fed with timings, so it runs without a GPU: the worker loop asks
 * `next()` for the sizes of its next attempt and reports the attempt's time with `record()`.
 * Attempts made while probing are real attempts (their receipts count), so tuning wastes no
 * work. `tune(measure)` drives the same machine with an injected timing function.
 */
import { attemptOps, type Sizes } from "@tops/protocol";

export interface AutotunerOptions {
  readonly presets: readonly Sizes[];
  readonly targetMs: number;
  /** Use `fixedSizes` forever (AUTOTUNE_DISABLE=1). */
  readonly disabled?: boolean;
  /** Sizes when disabled; default the smallest preset. */
  readonly fixedSizes?: Sizes;
  /** Timed attempts per probed preset, after one untimed warm-up (pipelines, weights). Default 3. */
  readonly samples?: number;
  /** Settled: re-tune when the median of this many recent attempts is off target. Default 8. */
  readonly window?: number;
  /** "Off target" means slower than target·factor or faster than target/factor. Default 2. */
  readonly driftFactor?: number;
  /** Largest growth of work from one probe to the next, to bound a wild first estimate. Default 32. */
  readonly maxStep?: number;
  readonly log?: (line: string) => void;
}

export type AutotunePhase = "fixed" | "probing" | "settled";

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const sameSizes = (a: Sizes, b: Sizes): boolean => a.m === b.m && a.n === b.n && a.k === b.k && a.batch === b.batch;

export const sizesLabel = (s: Sizes): string => `${s.m}x${s.n}x${s.k}${s.batch === 1 ? "" : `x${s.batch}`}`;

export class Autotuner {
  readonly presets: readonly Sizes[];
  readonly targetMs: number;
  private readonly samples: number;
  private readonly window: number;
  private readonly driftFactor: number;
  private readonly maxStep: number;
  private readonly log: (line: string) => void;
  private phaseNow: AutotunePhase;
  /** Index into `presets` of the preset being probed or run. */
  private index = 0;
  private readonly fixed: Sizes;
  /** Probe results this round: preset index → median ms. */
  private measured = new Map<number, number>();
  private current: number[] = [];
  private warmedUp = false;
  private recent: number[] = [];
  /** Presets the engine refused (too big for the device): never picked again. */
  private readonly banned = new Set<number>();

  constructor(opts: AutotunerOptions) {
    if (!(opts.targetMs > 0)) throw new RangeError("targetMs must be positive");
    if (opts.presets.length === 0 && !opts.fixedSizes) throw new RangeError("the autotuner needs at least one preset");
    this.presets = [...opts.presets].sort((a, b) => attemptOps(a) - attemptOps(b));
    this.targetMs = opts.targetMs;
    this.samples = Math.max(1, opts.samples ?? 3);
    this.window = Math.max(1, opts.window ?? 8);
    this.driftFactor = Math.max(1.01, opts.driftFactor ?? 2);
    this.maxStep = Math.max(2, opts.maxStep ?? 32);
    this.log = opts.log ?? (() => {});
    this.fixed = opts.fixedSizes ?? this.presets[0]!;
    this.phaseNow = opts.disabled || this.presets.length === 0 ? "fixed" : "probing";
  }

  get phase(): AutotunePhase {
    return this.phaseNow;
  }

  /** Sizes for the next attempt. */
  next(): Sizes {
    return this.phaseNow === "fixed" ? this.fixed : this.presets[this.index]!;
  }

  /** Reports the wall time of an attempt run at `sizes` (those from next(); others are ignored). */
  record(sizes: Sizes, ms: number): void {
    if (this.phaseNow === "fixed" || !Number.isFinite(ms) || ms < 0 || !sameSizes(sizes, this.next())) return;
    if (this.phaseNow === "probing") this.probe(ms);
    else this.watch(ms);
  }

  /**
   * The engine could not run `sizes` at all (out of memory, above a device limit): never pick
   * it, or any preset with at least as much work, again; probe the next smaller one.
   */
  reject(sizes: Sizes): void {
    if (this.phaseNow === "fixed") return;
    const i = this.presets.findIndex((p) => sameSizes(p, sizes));
    if (i < 0) return;
    const ops = attemptOps(sizes);
    this.presets.forEach((p, j) => {
      if (attemptOps(p) >= ops) this.banned.add(j);
    });
    const below = [...this.presets.keys()].filter((j) => j < i && !this.banned.has(j));
    const above = [...this.presets.keys()].filter((j) => j > i && !this.banned.has(j));
    const next = below.length ? below[below.length - 1] : above[0];
    if (next === undefined) throw new RangeError("the engine refused every autotune preset");
    this.log(`autotune: ${sizesLabel(sizes)} refused by the engine; trying ${sizesLabel(this.presets[next]!)}`);
    this.index = next;
    this.phaseNow = "probing";
    this.measured.delete(i);
    this.current = [];
    this.warmedUp = false;
  }

  /** Drives the machine with a timing function until it settles; returns the chosen sizes. */
  async tune(measure: (sizes: Sizes) => Promise<number>, maxAttempts = 100): Promise<Sizes> {
    for (let i = 0; i < maxAttempts && this.phaseNow === "probing"; i++) {
      const sizes = this.next();
      this.record(sizes, await measure(sizes));
    }
    return this.next();
  }

  private probe(ms: number): void {
    if (!this.warmedUp) {
      this.warmedUp = true; // first run at a size pays for pipelines and weights: not timed
      return;
    }
    this.current.push(ms);
    if (this.current.length < this.samples) return;
    const t = median(this.current);
    this.measured.set(this.index, t);
    this.current = [];
    this.warmedUp = false;
    const best = this.predictBest(this.index, t);
    if (best === this.index || this.measured.has(best)) {
      this.settle(this.closestMeasured());
    } else {
      this.index = best;
    }
  }

  /** Preset predicted closest to target (in ratio) from throughput measured at `at`, within maxStep. */
  private predictBest(at: number, ms: number): number {
    const opsAt = attemptOps(this.presets[at]!);
    const perMs = opsAt / Math.max(ms, 1e-3);
    let best = at;
    let bestScore = Infinity;
    this.presets.forEach((p, i) => {
      const ops = attemptOps(p);
      if (ops > opsAt * this.maxStep || this.banned.has(i)) return;
      const score = Math.abs(Math.log(ops / perMs / this.targetMs));
      if (score < bestScore) {
        bestScore = score;
        best = i;
      }
    });
    return best;
  }

  private closestMeasured(): number {
    let best = this.index;
    let bestScore = Infinity;
    for (const [i, ms] of this.measured) {
      const score = Math.abs(Math.log(ms / this.targetMs));
      if (score < bestScore) {
        bestScore = score;
        best = i;
      }
    }
    return best;
  }

  private settle(index: number): void {
    this.index = index;
    this.phaseNow = "settled";
    this.recent = [];
    const ms = this.measured.get(index);
    this.log(`autotune: ${sizesLabel(this.presets[index]!)} (${ms?.toFixed(1) ?? "?"} ms, target ${this.targetMs} ms)`);
  }

  private watch(ms: number): void {
    this.recent.push(ms);
    if (this.recent.length > this.window) this.recent.shift();
    if (this.recent.length < this.window) return;
    const m = median(this.recent);
    // Too fast at the largest preset, or too slow at the smallest, is as close as the presets get:
    // re-tuning would only land here again.
    const tooSlow = m > this.targetMs * this.driftFactor && this.index > 0;
    const tooFast = m < this.targetMs / this.driftFactor && this.index < this.presets.length - 1;
    if (tooSlow || tooFast) {
      this.log(`autotune: median ${m.toFixed(1)} ms of the last ${this.window} attempts is off target ${this.targetMs} ms; re-tuning`);
      this.phaseNow = "probing";
      this.measured = new Map();
      // The recent attempts are fresh measurements of this (warm) preset: probe from them directly.
      this.warmedUp = true;
      this.current = this.recent.slice(-this.samples);
      this.recent = [];
      if (this.current.length >= this.samples) this.probe(this.current.pop()!);
    }
  }
}
