/**
 * Sizes of an attempt as the GPU lays it out. Every int8 matrix is packed four to a u32 along
 * its contiguous dimension, exactly the protocol's genWord order (byte j of word w is element
 * 4w+j), so A words come straight from genWord and W rows are the transposed rows of
 * pipeline.ts. A row whose length is not a multiple of 4 ends in a word whose unused high bytes
 * are 0, which adds nothing to a dot product.
 */
import { W1_KEY, W2_KEY, concatBytes, genWord, shift1, shift2, u32le, utf8, type GenKey, type Sizes } from "@tops/protocol";

/** Header of the v1 flat hash that the GPU kernel still computes; protocol v2 hashes rows (issue 11 replaces this). */
const flatHashHeader = (s: Sizes): Uint8Array =>
  concatBytes(utf8("tops-work/v1/work_root"), new Uint8Array([0]), u32le(s.m), u32le(s.n), u32le(s.k), u32le(s.batch));
import { CHUNK_BYTES, MAX_HEADER_BYTES, levelCounts } from "./blake3";

export interface Layout {
  readonly sizes: Sizes;
  /** Rows of A, y1 and y2: batch·m. */
  readonly rows: number;
  /** Words per row of A and W1ᵀ: ceil(k/4). */
  readonly KW: number;
  /** Words per row of y1, y2 and W2ᵀ: ceil(n/4). */
  readonly NW: number;
  readonly shift1: number;
  readonly shift2: number;
  /** Bytes of the packed y1 / y2 buffers (rows padded to whole words). */
  readonly outBytes: number;
  /** The hashed message: header ‖ y2 without row padding. */
  readonly header: Uint8Array;
  readonly messageBytes: number;
  readonly chunks: number;
  readonly levels: readonly number[];
}

/** Mask of the last word of a row of `cols` int8: keeps only the bytes that exist. */
export const tailMask = (cols: number): number => (cols % 4 === 0 ? 0xffffffff : 2 ** (8 * (cols % 4)) - 1);

export function layoutFor(sizes: Sizes): Layout {
  const rows = sizes.m * sizes.batch;
  const NW = Math.ceil(sizes.n / 4);
  const header = flatHashHeader(sizes);
  const messageBytes = header.length + rows * sizes.n;
  const chunks = Math.ceil(messageBytes / CHUNK_BYTES);
  return {
    sizes,
    rows,
    KW: Math.ceil(sizes.k / 4),
    NW,
    shift1: shift1(sizes.k),
    shift2: shift2(sizes.n),
    outBytes: rows * NW * 4,
    header,
    messageBytes,
    chunks,
    levels: levelCounts(chunks),
  };
}

/** Wᵀ packed: `rows` rows of `cols` int8, row j = genRow(key, j, cols), as u32 words. */
export function packedWeights(key: GenKey, rows: number, cols: number): Uint32Array {
  const words = Math.ceil(cols / 4);
  const mask = tailMask(cols);
  const out = new Uint32Array(rows * words);
  for (let j = 0; j < rows; j++) {
    const base = j * words;
    for (let w = 0; w < words; w++) out[base + w] = genWord(key, j, w);
    out[base + words - 1] = (out[base + words - 1]! & mask) >>> 0;
  }
  return out;
}

export const packedW1 = (s: Sizes): Uint32Array => packedWeights(W1_KEY, s.n, s.k);
export const packedW2 = (s: Sizes): Uint32Array => packedWeights(W2_KEY, s.n, s.n);

/** The Dims uniform of wgsl.ts for each layer. */
export function dimsWords(l: Layout, layer: 1 | 2): Uint32Array {
  const { n, k } = l.sizes;
  return layer === 1
    ? new Uint32Array([l.rows, n, l.KW, l.NW, l.shift1, tailMask(k), 0, 0])
    : new Uint32Array([l.rows, n, l.NW, l.NW, l.shift2, tailMask(n), 0, 0]);
}

/** The HashParams uniform of blake3.ts. */
export function hashParamsWords(l: Layout): Uint32Array {
  const words = new Uint32Array(24);
  words.set([l.messageBytes, l.header.length, l.sizes.n, l.NW, l.chunks, l.chunks * 256, 0, 0]);
  if (l.header.length > MAX_HEADER_BYTES) throw new RangeError("work_root header longer than the hash kernel holds");
  const header = new Uint8Array(MAX_HEADER_BYTES);
  header.set(l.header);
  const view = new DataView(header.buffer);
  for (let i = 0; i < MAX_HEADER_BYTES / 4; i++) words[8 + i] = view.getUint32(4 * i, true);
  return words;
}
