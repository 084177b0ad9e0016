/**
 * The generator of SPEC.md §3 laid out for a GEMM: W row-major (reduction index first), A rows
 * row-major. Bit-identical to `genElement`; faster than `genRow` because the first mixing
 * round, which depends only on the generator row, is computed once per row, and every word
 * is written as four bytes into four output rows in one pass. Weights use WebAssembly SIMD
 * (wasm/weights.wat, 16 words per step) where the runtime has it, plain JS otherwise.
 */
import type { GenKey } from "@tops/protocol";
import { WEIGHTS_WASM_BASE64 } from "./weights-wasm.generated";

/** MurmurHash3's finalizer (as `fmix32` in @tops/protocol), kept here so it inlines. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Columns c0 … width−1 of W (depth × width), in plain JS. */
function fillColumnsJs(key: GenKey, depth: number, width: number, c0: number, out: Int8Array): void {
  const [k0, k1, k2, k3] = key;
  const first = new Int32Array(width);
  for (let j = c0; j < width; j++) first[j] = fmix(k0 ^ j);
  const words = Math.ceil(depth / 4);
  for (let w = 0; w < words; w++) {
    const mix = k1 ^ w;
    const r0 = 4 * w * width;
    // Rows past `depth` do not exist (SPEC.md §3): the last word may cover 1–3 real rows.
    const live = Math.min(4, depth - 4 * w);
    if (live === 4) {
      for (let j = c0; j < width; j++) {
        const x = fmix((fmix(first[j]! ^ mix) + k2) | 0) ^ k3;
        out[r0 + j] = x; // a typed-array store keeps the low byte, read as int8
        out[r0 + width + j] = x >> 8;
        out[r0 + 2 * width + j] = x >> 16;
        out[r0 + 3 * width + j] = x >> 24;
      }
    } else {
      for (let j = c0; j < width; j++) {
        const x = fmix((fmix(first[j]! ^ mix) + k2) | 0) ^ k3;
        for (let b = 0; b < live; b++) out[r0 + b * width + j] = x >> (8 * b);
      }
    }
  }
}

/** The part of the WebAssembly API used here (the project's TypeScript libs do not declare it). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: unknown };
}

interface WeightsWasm {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  firstRound(k0: number, width: number, firstAt: number): void;
  rows(k1: number, k2: number, k3: number, depth: number, width: number, cols: number, w0: number, w1: number, firstAt: number, outAt: number): void;
}

/** Output rows are made in blocks of about this many bytes, so the module's memory stays small. */
const BLOCK_BYTES = 1 << 20;
const PAGE = 65536;
let wasm: WeightsWasm | null | undefined;

/** This thread's instance of the SIMD generator, or null where WebAssembly SIMD is missing. */
function weightsWasm(): WeightsWasm | null {
  if (wasm === undefined) {
    const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    const bytes = Buffer.from(WEIGHTS_WASM_BASE64, "base64");
    wasm = api?.validate(bytes) ? (new api.Instance(new api.Module(bytes)).exports as WeightsWasm) : null;
  }
  return wasm;
}

/** Columns 0 … cols−1 (a multiple of 16) of W with WebAssembly SIMD. */
function fillColumnsWasm(m: WeightsWasm, key: GenKey, depth: number, width: number, cols: number, out: Int8Array): void {
  const firstAt = 0;
  const outAt = Math.ceil((4 * width) / 16) * 16;
  const words = Math.ceil(depth / 4);
  const blockWords = Math.max(1, Math.floor(BLOCK_BYTES / (4 * width)));
  const need = outAt + 4 * blockWords * width;
  const have = m.memory.buffer.byteLength;
  if (need > have) m.memory.grow(Math.ceil((need - have) / PAGE));
  m.firstRound(key[0], width, firstAt);
  for (let w0 = 0; w0 < words; w0 += blockWords) {
    const w1 = Math.min(words, w0 + blockWords);
    m.rows(key[1], key[2], key[3], depth, width, cols, w0, w1, firstAt, outAt);
    const r0 = 4 * w0;
    const r1 = Math.min(depth, 4 * w1);
    const block = new Int8Array(m.memory.buffer, outAt, (r1 - r0) * width);
    if (cols === width) {
      out.set(block, r0 * width);
    } else {
      for (let r = r0; r < r1; r++) out.set(block.subarray((r - r0) * width, (r - r0) * width + cols), r * width);
    }
  }
}

export interface GenerateWeightsOptions {
  /** Where to write (length depth·width); a new array by default. */
  readonly out?: Int8Array;
  /** Use WebAssembly SIMD where available (default true); false forces plain JS. */
  readonly simd?: boolean;
}

/** Whether `generateWeights` can use WebAssembly SIMD in this runtime. */
export const weightsSimdAvailable = (): boolean => weightsWasm() !== null;

/**
 * W (depth × width), row-major, with W[i][j] = element(key, j, i): generator row j is column j
 * (SPEC.md §4.1). For W1 depth = k and width = n; for W2 both are n.
 */
export function generateWeights(key: GenKey, depth: number, width: number, options: GenerateWeightsOptions = {}): Int8Array {
  const out = options.out ?? new Int8Array(depth * width);
  if (out.length !== depth * width) throw new RangeError(`the output must hold ${depth}×${width} elements, got ${out.length}`);
  const m = options.simd === false ? null : weightsWasm();
  const cols = m ? width - (width % 16) : 0;
  if (m && cols > 0) fillColumnsWasm(m, key, depth, width, cols, out);
  if (cols < width) fillColumnsJs(key, depth, width, cols, out);
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
