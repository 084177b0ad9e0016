/**
 * Counter-based generator for the int8 matrices (SPEC.md §3).
 *
 * Every 32-bit word is a pure function of (key, row, word index), so a GPU thread or a
 * verifier can produce any element without producing those before it. Only 32-bit
 * wrapping integer operations are used, so WGSL can compute the same bits.
 */

/** MurmurHash3's 32-bit finalizer: a bijection on u32 with full avalanche. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A generator key: four u32 words. */
export type GenKey = readonly [number, number, number, number];

/** Key from the first 16 bytes of a 32-byte hash, little-endian words. */
export function keyFromBytes(bytes: Uint8Array): GenKey {
  if (bytes.length < 16) throw new RangeError("a generator key needs 16 bytes");
  const v = new DataView(bytes.buffer, bytes.byteOffset, 16);
  return [v.getUint32(0, true), v.getUint32(4, true), v.getUint32(8, true), v.getUint32(12, true)];
}

/** Word `col4` of row `row`: four int8 elements, columns 4·col4 … 4·col4+3, lowest byte first. */
export function genWord(key: GenKey, row: number, col4: number): number {
  let x = fmix32((key[0] ^ row) >>> 0);
  x = fmix32((x ^ key[1] ^ col4) >>> 0);
  x = fmix32((x + key[2]) >>> 0);
  return (x ^ key[3]) >>> 0;
}

/** One int8 element at (row, col). */
export function genElement(key: GenKey, row: number, col: number): number {
  const word = genWord(key, row, col >>> 2);
  return ((word >>> (8 * (col & 3))) << 24) >> 24;
}

/** Fills `out` (length `cols`) with row `row` of the generated matrix. */
export function genRow(key: GenKey, row: number, cols: number, out: Int8Array = new Int8Array(cols)): Int8Array {
  const words = Math.ceil(cols / 4);
  for (let w = 0; w < words; w++) {
    const word = genWord(key, row, w);
    const base = 4 * w;
    for (let j = 0; j < 4 && base + j < cols; j++) out[base + j] = ((word >>> (8 * j)) << 24) >> 24;
  }
  return out;
}
