import type { Sizes } from "@tops/protocol";

/** Recomputes selected rows of y2 (SPEC.md §4.3), bit-exact with the protocol's `computeRow`. */
export interface RowKernel {
  /** What computes the rows, e.g. "onnxruntime-node 1.30.0 …"; a fallback says why it is one. */
  readonly name: string;
  /** True for the fast library path, false for the TypeScript reference. */
  readonly native: boolean;
  /**
   * y2[r] for each global row r in `rows` (r = b·m + i), n bytes each, in the order asked.
   * Throws RangeError for sizes out of bounds or a row outside 0..batch·m−1.
   */
  rows(seed: Uint8Array, sizes: Sizes, rows: readonly number[]): Promise<Uint8Array[]>;
  /** Releases cached weights and sessions; the kernel must not be used afterwards. */
  close(): Promise<void>;
}

export interface RowKernelOptions {
  /**
   * "auto" (default): onnxruntime when it loads and passes its self-test, else the reference.
   * "onnxruntime": the same, but failing to load is an error. "reference": the TS reference.
   */
  readonly backend?: "auto" | "onnxruntime" | "reference";
  /**
   * Threads per onnxruntime run (default 1: the aggregator runs audits on several worker
   * threads at once, each should keep to one core).
   */
  readonly threads?: number;
  /**
   * Bound on cached weights, in bytes (default 256 MiB). One size pair (k, n) costs about
   * 2·(k·n + n²) bytes in onnxruntime (the weights and their packed copy): 64 MiB at 4096.
   */
  readonly cacheBytes?: number;
  /**
   * Largest weights (k·n + n² bytes) a call may need (default 1 GiB); larger sizes are refused
   * with a RangeError before anything is allocated.
   */
  readonly maxWeightBytes?: number;
  /** Module to load onnxruntime from (default "onnxruntime-node"). */
  readonly onnxruntimeModule?: string;
}
