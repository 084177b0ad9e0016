/** The TypeScript reference as a RowKernel: the protocol's own `computeRow`, row at a time. */
import { attemptContext, computeRow, type RowScratch, type Sizes } from "@tops/protocol";
import { DEFAULT_MAX_WEIGHT_BYTES, assertRows } from "./check";
import type { RowKernel } from "./types";

export function referenceKernel(why?: string, maxWeightBytes = DEFAULT_MAX_WEIGHT_BYTES): RowKernel {
  return {
    name: why ? `ts-reference (${why})` : "ts-reference",
    native: false,
    rows(seed: Uint8Array, sizes: Sizes, rows: readonly number[]): Promise<Uint8Array[]> {
      try {
        assertRows(seed, sizes, rows, maxWeightBytes);
        const ctx = attemptContext(seed, sizes);
        const scratch: RowScratch = { a: new Int8Array(sizes.k), y1: new Int32Array(sizes.n) };
        return Promise.resolve(rows.map((row) => computeRow(ctx, row, new Uint8Array(sizes.n), scratch)));
      } catch (e) {
        return Promise.reject(e as Error);
      }
    },
    close: () => Promise.resolve(),
  };
}
