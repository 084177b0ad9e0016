/**
 * Picks the fastest kernel variant per attempt size by timing real attempts: each candidate
 * runs `warmups` untimed attempts (pipeline compilation, first-touch of buffers) and `samples`
 * timed ones, then the fastest is kept for that size. Every exploring attempt is a correct
 * attempt, so exploration costs only the slower variants' extra time. Pure: no GPU needed.
 */

export interface ChooserOptions {
  readonly warmups?: number;
  readonly samples?: number;
  readonly log?: (line: string) => void;
}

interface SizeState {
  /** Runs so far per candidate (warm-ups included). */
  readonly runs: Map<string, number>;
  readonly times: Map<string, number[]>;
  chosen?: string;
}

export class VariantChooser {
  private readonly candidates: string[];
  private readonly dropped = new Map<string, string>();
  private readonly sizes = new Map<string, SizeState>();
  private readonly warmups: number;
  private readonly samples: number;
  private readonly log: (line: string) => void;

  constructor(candidates: readonly string[], opts: ChooserOptions = {}) {
    if (candidates.length === 0) throw new RangeError("no kernel variant to choose from");
    this.candidates = [...candidates];
    this.warmups = Math.max(0, opts.warmups ?? 1);
    this.samples = Math.max(1, opts.samples ?? 2);
    this.log = opts.log ?? (() => {});
  }

  /** Candidates still in the running, in preference order. */
  get usable(): string[] {
    return this.candidates.filter((c) => !this.dropped.has(c));
  }

  /**
   * Variant for the next attempt at `size` (any string identifying the sizes), among those
   * `eligible` for it; throws when none is left.
   */
  pick(size: string, eligible: (variant: string) => boolean = () => true): string {
    const usable = this.usable.filter(eligible);
    if (usable.length === 0) {
      const why = [...this.dropped].map(([n, w]) => `${n} (${w})`).join("; ");
      throw new Error(`no kernel variant can run ${size}${why ? `; disabled: ${why}` : ""}`);
    }
    const st = this.state(size);
    if (st.chosen && usable.includes(st.chosen)) return st.chosen;
    if (usable.length === 1) return (st.chosen = usable[0]!);
    const next = usable.find((c) => (st.runs.get(c) ?? 0) < this.warmups + this.samples);
    if (next) return next;
    return this.decide(size, st, usable);
  }

  /** The time of an attempt run with `variant` at `size` (GPU time when known, else wall time). */
  record(size: string, variant: string, ms: number): void {
    const st = this.state(size);
    const runs = (st.runs.get(variant) ?? 0) + 1;
    st.runs.set(variant, runs);
    if (runs > this.warmups && Number.isFinite(ms)) {
      const t = st.times.get(variant) ?? [];
      t.push(ms);
      st.times.set(variant, t);
    }
  }

  /** Removes a variant for good (failed its exactness check or its pipeline did not build). */
  drop(variant: string, why: string): void {
    if (this.dropped.has(variant)) return;
    this.dropped.set(variant, why);
    for (const st of this.sizes.values()) if (st.chosen === variant) delete st.chosen;
    this.log(`variant ${variant} disabled: ${why}`);
  }

  chosen(size: string): string | undefined {
    return this.sizes.get(size)?.chosen;
  }

  private state(size: string): SizeState {
    let st = this.sizes.get(size);
    if (!st) this.sizes.set(size, (st = { runs: new Map(), times: new Map() }));
    return st;
  }

  private decide(size: string, st: SizeState, usable: string[]): string {
    const best = (c: string): number => Math.min(...(st.times.get(c) ?? [Infinity]));
    const ranked = [...usable].sort((a, b) => best(a) - best(b));
    st.chosen = ranked[0]!;
    this.log(`variant for ${size}: ${ranked.map((c) => `${c} ${best(c).toFixed(1)} ms`).join(", ")} -> ${st.chosen}`);
    return st.chosen;
  }
}
