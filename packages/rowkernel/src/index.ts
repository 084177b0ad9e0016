/**
 * @tops/rowkernel: recomputes selected rows of y2 for audits (and for a worker opening rows),
 * bit-exact with @tops/protocol's `computeRow`, with onnxruntime's int8 GEMM when it loads
 * and the TypeScript reference when it does not.
 */
import { DEFAULT_MAX_WEIGHT_BYTES } from "./check";
import { loadOnnxRuntime, onnxKernel, selfTestProblem } from "./onnx-kernel";
import { referenceKernel } from "./reference-kernel";
import type { RowKernel, RowKernelOptions } from "./types";

export type { RowKernel, RowKernelOptions } from "./types";
export { referenceKernel } from "./reference-kernel";
export { generateRows, generateWeights } from "./weights";
export { sessionBytes } from "./onnx-kernel";
export { DEFAULT_MAX_WEIGHT_BYTES, weightBytes } from "./check";

export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split("\n")[0]!;

/** A row kernel: the fastest that loads and proves exact here, as `options.backend` allows. */
export async function createRowKernel(options: RowKernelOptions = {}): Promise<RowKernel> {
  const backend = options.backend ?? "auto";
  const maxWeightBytes = options.maxWeightBytes ?? DEFAULT_MAX_WEIGHT_BYTES;
  if (!(maxWeightBytes >= 1)) throw new RangeError(`maxWeightBytes must be a positive number, got ${maxWeightBytes}`);
  if (backend === "reference") return referenceKernel(undefined, maxWeightBytes);
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
  const cacheBytes = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
  if (!Number.isFinite(cacheBytes) || cacheBytes < 0) throw new RangeError(`cacheBytes must be a non-negative number, got ${cacheBytes}`);
  const specifier = options.onnxruntimeModule ?? "onnxruntime-node";
  let why: string;
  try {
    const ort = await loadOnnxRuntime(specifier);
    const problem = await selfTestProblem(ort);
    if (problem === null) return onnxKernel(ort, { threads, cacheBytes, maxWeightBytes });
    why = `${specifier} failed its self-test: ${problem}`;
  } catch (e) {
    why = `${specifier} did not load: ${message(e)}`;
  }
  if (backend === "onnxruntime") throw new Error(why);
  return referenceKernel(why, maxWeightBytes);
}
