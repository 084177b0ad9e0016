/**
 * Reference implementation of the attempt pipeline (SPEC.md §4–5), in plain TypeScript.
 * It is the oracle every engine must equal bit for bit, the CPU backend, and the
 * aggregator's auditor. Clarity first; it is still fast enough for audits at dev sizes.
 */
import { MAX_BATCH, MAX_DIM, MAX_ROWS } from "./constants";
import { merkleRoot, rowLeaves } from "./merkle";
import { genRow, type GenKey } from "./prng";
import { W1_KEY, W2_KEY, activationKey } from "./seed";

export interface Sizes {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly batch: number;
}

/** Why sizes are out of bounds, or null when they are fine. */
export function sizesProblem(s: Sizes): string | null {
  for (const [name, v, max] of [["m", s.m, MAX_DIM], ["n", s.n, MAX_DIM], ["k", s.k, MAX_DIM], ["batch", s.batch, MAX_BATCH]] as const) {
    if (!Number.isSafeInteger(v) || v < 1 || v > max) return `${name} must be an integer in [1, ${max}], got ${v}`;
  }
  if (s.m * s.batch > MAX_ROWS) return `batch·m must be at most ${MAX_ROWS}, got ${s.m * s.batch}`;
  return null;
}

export function assertSizes(s: Sizes): void {
  const problem = sizesProblem(s);
  if (problem) throw new RangeError(problem);
}

/** ⌈log2 d⌉ for d ≥ 1. */
export function ceilLog2(d: number): number {
  let e = 0;
  while (2 ** e < d) e++;
  return e;
}

/** Right shifts of the two requantizations; they keep typical outputs spread over 0..127. */
export const shift1 = (k: number): number => 7 + ((ceilLog2(k) + 1) >> 1);
export const shift2 = (n: number): number => 5 + ((ceilLog2(n) + 1) >> 1);

/** requant(acc, s) = min((max(acc, 0) + 2^(s-1)) >> s, 127): ReLU, round half up, clamp. */
export function requant(acc: number, shift: number): number {
  if (acc <= 0) return 0;
  const q = (acc + (1 << (shift - 1))) >> shift;
  return q > 127 ? 127 : q;
}

/** Operations one attempt performs: a multiply and an add per MAC, both layers. */
export const attemptOps = (s: Sizes): number => s.batch * (2 * s.m * s.n * s.k + 2 * s.m * s.n * s.n);

/** Weights stored transposed (W1ᵀ is n×k, W2ᵀ is n×n), row j holding column j: the generator's natural order. */
export interface Weights {
  readonly k: number;
  readonly n: number;
  readonly w1t: Int8Array;
  readonly w2t: Int8Array;
}

/** Generates the transposed weights rows from a key: row j of Wᵀ is `genRow(key, j, cols)`. */
export function generateTransposed(key: GenKey, rows: number, cols: number): Int8Array {
  const out = new Int8Array(rows * cols);
  for (let j = 0; j < rows; j++) genRow(key, j, cols, out.subarray(j * cols, (j + 1) * cols));
  return out;
}

const weightCache = new Map<string, Weights>();
/** The cache holds at most this many bytes of weights (a 4096² pair alone is 32 MiB). */
const WEIGHT_CACHE_BYTES = 64 * 1024 * 1024;

/** W1 (k×n) and W2 (n×n), cached per size (least recently used first out): they depend on nothing else. */
export function weightsFor(k: number, n: number): Weights {
  const id = `${k}x${n}`;
  let w = weightCache.get(id);
  if (w) {
    weightCache.delete(id); // re-insert: Map order is the recency order
  } else {
    w = { k, n, w1t: generateTransposed(W1_KEY, n, k), w2t: generateTransposed(W2_KEY, n, n) };
    let bytes = w.w1t.length + w.w2t.length;
    for (const v of weightCache.values()) bytes += v.w1t.length + v.w2t.length;
    for (const [oldId, old] of weightCache) {
      if (bytes <= WEIGHT_CACHE_BYTES) break;
      bytes -= old.w1t.length + old.w2t.length;
      weightCache.delete(oldId);
    }
  }
  weightCache.set(id, w);
  return w;
}

/** Everything needed to compute rows of one attempt. */
export interface AttemptContext {
  readonly sizes: Sizes;
  readonly key: GenKey;
  readonly weights: Weights;
}

export function attemptContext(seed: Uint8Array, sizes: Sizes): AttemptContext {
  assertSizes(sizes);
  return { sizes, key: activationKey(seed), weights: weightsFor(sizes.k, sizes.n) };
}

/** Scratch buffers so a caller computing many rows allocates once. */
export interface RowScratch {
  a: Int8Array;
  y1: Int32Array;
}

/**
 * One row of y2 from one row of A: global row `row` = b·m + i (batch b, row i).
 * Writes n bytes, each in 0..127, into `out`.
 */
export function computeRow(ctx: AttemptContext, row: number, out: Uint8Array = new Uint8Array(ctx.sizes.n), scratch?: RowScratch): Uint8Array {
  const { k, n } = ctx.sizes;
  const { w1t, w2t } = ctx.weights;
  const a = genRow(ctx.key, row, k, scratch?.a ?? new Int8Array(k));
  const y1 = scratch?.y1 ?? new Int32Array(n);
  const s1 = shift1(k);
  const s2 = shift2(n);
  for (let j = 0; j < n; j++) {
    let acc = 0;
    const base = j * k;
    for (let i = 0; i < k; i++) acc += a[i]! * w1t[base + i]!;
    y1[j] = requant(acc, s1);
  }
  for (let j = 0; j < n; j++) {
    let acc = 0;
    const base = j * n;
    for (let i = 0; i < n; i++) acc += y1[i]! * w2t[base + i]!;
    out[j] = requant(acc, s2);
  }
  return out;
}

/** The whole pipeline: y2 for all batch·m rows, row-major, one byte per element. */
export function computeY2(seed: Uint8Array, sizes: Sizes): Uint8Array {
  const ctx = attemptContext(seed, sizes);
  const rows = sizes.batch * sizes.m;
  const y2 = new Uint8Array(rows * sizes.n);
  const scratch: RowScratch = { a: new Int8Array(sizes.k), y1: new Int32Array(sizes.n) };
  for (let r = 0; r < rows; r++) computeRow(ctx, r, y2.subarray(r * sizes.n, (r + 1) * sizes.n), scratch);
  return y2;
}

/** work_root = the Merkle root over the rows of y2 (SPEC.md §5): a commitment to every output. */
export function workRoot(sizes: Sizes, y2: Uint8Array): Uint8Array {
  return merkleRoot(rowLeaves(sizes, y2));
}

/** Reference attempt: seed → work_root. */
export function referenceWorkRoot(seed: Uint8Array, sizes: Sizes): Uint8Array {
  return workRoot(sizes, computeY2(seed, sizes));
}
