import { assertSizes, type Sizes } from "@tops/protocol";

/** Throws RangeError unless sizes are in bounds and every row is a global row index of y2. */
export function assertRows(seed: Uint8Array, sizes: Sizes, rows: readonly number[]): void {
  if (!(seed instanceof Uint8Array) || seed.length < 16) throw new RangeError("seed must be a Uint8Array of at least 16 bytes");
  assertSizes(sizes);
  const count = sizes.batch * sizes.m;
  for (const r of rows) {
    if (!Number.isInteger(r) || r < 0 || r >= count) throw new RangeError(`row must be an integer in 0..${count - 1}, got ${r}`);
  }
}
