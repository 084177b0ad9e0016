import { assertSizes, type Sizes } from "@tops/protocol";

/**
 * Default bound on one size pair's weights, k·n + n² bytes: 1 GiB (k = n ≈ 23 000). The
 * protocol allows k = n = 65 536 (8 GiB of weights); refusing such sizes is the caller's
 * policy, and this bound keeps a kernel from trying (an ONNX model cannot exceed 2 GiB anyway).
 */
export const DEFAULT_MAX_WEIGHT_BYTES = 1 << 30;

/** Bytes of int8 weights (W1 and W2) for sizes. */
export const weightBytes = (s: Sizes): number => s.k * s.n + s.n * s.n;

/**
 * Throws RangeError unless sizes are in bounds, their weights within `maxWeightBytes`, and
 * every row a global row index of y2.
 */
export function assertRows(seed: Uint8Array, sizes: Sizes, rows: readonly number[], maxWeightBytes: number): void {
  if (!(seed instanceof Uint8Array) || seed.length < 16) throw new RangeError("seed must be a Uint8Array of at least 16 bytes");
  assertSizes(sizes);
  if (weightBytes(sizes) > maxWeightBytes) {
    throw new RangeError(`weights for k=${sizes.k}, n=${sizes.n} are ${weightBytes(sizes)} bytes, over this kernel's bound of ${maxWeightBytes}`);
  }
  const count = sizes.batch * sizes.m;
  for (const r of rows) {
    if (!Number.isInteger(r) || r < 0 || r >= count) throw new RangeError(`row must be an integer in 0..${count - 1}, got ${r}`);
  }
}
