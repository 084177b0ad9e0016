/**
 * The generator of SPEC.md §3 laid out for a GEMM: W row-major (reduction index first), A rows
 * row-major. Bit-identical to `genElement`; faster than `genRow` because the first mixing
 * round, which depends only on the generator row, is computed once per row, and every word
 * is written as four bytes into four output rows in one pass (four sequential streams).
 */
import type { GenKey } from "@tops/protocol";

/** MurmurHash3's finalizer (as `fmix32` in @tops/protocol), kept here so it inlines. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * W (depth × width), row-major, with W[i][j] = element(key, j, i): generator row j is column j
 * (SPEC.md §4.1). For W1 depth = k and width = n; for W2 both are n.
 */
export function generateWeights(key: GenKey, depth: number, width: number, out: Int8Array = new Int8Array(depth * width)): Int8Array {
  if (out.length !== depth * width) throw new RangeError(`the output must hold ${depth}×${width} elements, got ${out.length}`);
  const [k0, k1, k2, k3] = key;
  const first = new Int32Array(width);
  for (let j = 0; j < width; j++) first[j] = fmix(k0 ^ j);
  const words = Math.ceil(depth / 4);
  for (let w = 0; w < words; w++) {
    const mix = k1 ^ w;
    const r0 = 4 * w * width;
    // Rows past `depth` do not exist (SPEC.md §3): the last word may cover 1–3 real rows.
    const live = Math.min(4, depth - 4 * w);
    if (live === 4) {
      for (let j = 0; j < width; j++) {
        const x = fmix((fmix(first[j]! ^ mix) + k2) | 0) ^ k3;
        out[r0 + j] = x; // a typed-array store keeps the low byte, read as int8
        out[r0 + width + j] = x >> 8;
        out[r0 + 2 * width + j] = x >> 16;
        out[r0 + 3 * width + j] = x >> 24;
      }
    } else {
      for (let j = 0; j < width; j++) {
        const x = fmix((fmix(first[j]! ^ mix) + k2) | 0) ^ k3;
        for (let b = 0; b < live; b++) out[r0 + b * width + j] = x >> (8 * b);
      }
    }
  }
  return out;
}

/** Rows `rows` of A (each `cols` wide), one after another: out[i·cols + c] = element(key, rows[i], c). */
export function generateRows(key: GenKey, rows: readonly number[], cols: number): Int8Array {
  const [k0, k1, k2, k3] = key;
  const out = new Int8Array(rows.length * cols);
  const words = Math.ceil(cols / 4);
  rows.forEach((row, i) => {
    const first = fmix(k0 ^ row);
    const base = i * cols;
    for (let w = 0; w < words; w++) {
      const x = fmix((fmix(first ^ k1 ^ w) + k2) | 0) ^ k3;
      const c = base + 4 * w;
      const live = Math.min(4, cols - 4 * w);
      for (let b = 0; b < live; b++) out[c + b] = x >> (8 * b);
    }
  });
  return out;
}
