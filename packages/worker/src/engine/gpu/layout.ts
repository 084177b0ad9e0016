/**
 * Sizes of an attempt as the GPU lays it out. Every int8 matrix is packed four to a u32 along
 * its contiguous dimension, exactly the protocol's genWord order (byte j of word w is element
 * 4w+j), so A words come straight from genWord and W rows are the transposed rows of
 * pipeline.ts. A row whose length is not a multiple of 4 ends in a word whose unused high bytes
 * are 0, which adds nothing to a dot product.
 */
import { LEAF_PREFIX, NODE_PREFIX, W1_KEY, W2_KEY, genWord, shift1, shift2, type GenKey, type Sizes } from "@tops/protocol";
import { LEAF_HEADER_BYTES, LEAF_PARAMS_BYTES, leafChunks, treeLevels } from "./merkle";

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
  /** 1 KiB BLAKE3 chunks of one row's leaf message (52-byte header ‖ n bytes). */
  readonly leafChunks: number;
  /** Node counts of the levels inside one leaf's message (empty for a one-chunk leaf). */
  readonly leafLevels: readonly number[];
  /** Node counts of the Merkle tree's levels over the rows' leaves (empty for one row). */
  readonly treeLevels: readonly number[];
}

/** Mask of the last word of a row of `cols` int8: keeps only the bytes that exist. */
export const tailMask = (cols: number): number => (cols % 4 === 0 ? 0xffffffff : 2 ** (8 * (cols % 4)) - 1);

export function layoutFor(sizes: Sizes): Layout {
  const rows = sizes.m * sizes.batch;
  const NW = Math.ceil(sizes.n / 4);
  const chunks = leafChunks(sizes.n);
  return {
    sizes,
    rows,
    KW: Math.ceil(sizes.k / 4),
    NW,
    shift1: shift1(sizes.k),
    shift2: shift2(sizes.n),
    outBytes: rows * NW * 4,
    leafChunks: chunks,
    leafLevels: treeLevels(chunks),
    treeLevels: treeLevels(rows),
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

const wordsLE = (bytes: Uint8Array): number[] => Array.from({ length: bytes.length / 4 }, (_, i) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(4 * i, true));

/** The LeafParams uniform of merkle.ts: counts, then LEAF_PREFIX and m, n, k, batch as words. */
export function leafParamsWords(l: Layout): Uint32Array {
  const { m, n, k, batch } = l.sizes;
  const words = new Uint32Array(LEAF_PARAMS_BYTES / 4);
  words.set([l.rows, n, l.NW, l.leafChunks, LEAF_HEADER_BYTES + n, 0, 0, 0]);
  words.set([...wordsLE(LEAF_PREFIX), m, n, k, batch], 8);
  return words;
}

/** NODE_PREFIX as the 8 words of the nodes kernel's uniform. */
export const nodePrefixWords = (): Uint32Array => new Uint32Array(wordsLE(NODE_PREFIX));
