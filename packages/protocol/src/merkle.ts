/**
 * The work_root commitment (SPEC.md §5): a binary Merkle tree over the rows of y2.
 *
 *   leaf(r)    = BLAKE3(LEAF_PREFIX ‖ u32le m, n, k, batch ‖ u32le r ‖ y2[r])
 *   node(a, b) = BLAKE3(NODE_PREFIX ‖ a ‖ b)
 *
 * Levels pair neighbours left to right; an odd last element is carried up unchanged. The
 * shape depends only on R = batch·m, which every leaf binds, so a path is checked without
 * knowing anything but the sizes. Opening one row costs one leaf hash and ⌈log2 R⌉ nodes.
 */
import { blake3 } from "@noble/hashes/blake3.js";
import { concatBytes, u32le } from "./bytes";
import { DOMAIN_LEAF, DOMAIN_NODE } from "./constants";
import type { Sizes } from "./pipeline";
import { tag } from "./seed";

export const HASH_BYTES = 32;
/** 32-byte prefixes: whole words, so a GPU packs the header without shifting bytes. */
export const LEAF_PREFIX: Uint8Array = blake3(tag(DOMAIN_LEAF));
export const NODE_PREFIX: Uint8Array = blake3(tag(DOMAIN_NODE));
export const LEAF_HEADER_BYTES = 52;

export const rowCount = (s: Sizes): number => s.batch * s.m;

/** The 52 bytes hashed before row `row`'s n bytes. */
export function leafHeader(s: Sizes, row: number): Uint8Array {
  return concatBytes(LEAF_PREFIX, u32le(s.m), u32le(s.n), u32le(s.k), u32le(s.batch), u32le(row));
}

export function rowLeaf(s: Sizes, row: number, rowBytes: Uint8Array): Uint8Array {
  if (rowBytes.length !== s.n) throw new RangeError(`a row has n = ${s.n} bytes, got ${rowBytes.length}`);
  if (!Number.isInteger(row) || row < 0 || row >= rowCount(s)) throw new RangeError(`row ${row} is outside 0..${rowCount(s) - 1}`);
  return blake3.create().update(leafHeader(s, row)).update(rowBytes).digest();
}

export function merkleNode(left: Uint8Array, right: Uint8Array): Uint8Array {
  return blake3(concatBytes(NODE_PREFIX, left, right));
}

/** Every row's leaf, concatenated: leaf r at bytes r·32 .. r·32+31. */
export function rowLeaves(s: Sizes, y2: Uint8Array): Uint8Array {
  const rows = rowCount(s);
  if (y2.length !== rows * s.n) throw new RangeError("y2 length does not match the sizes");
  const out = new Uint8Array(rows * HASH_BYTES);
  for (let r = 0; r < rows; r++) out.set(rowLeaf(s, r, y2.subarray(r * s.n, (r + 1) * s.n)), r * HASH_BYTES);
  return out;
}

/** The next level up: pairs hashed, an odd last element carried unchanged. */
function levelUp(level: Uint8Array): Uint8Array {
  const count = level.length / HASH_BYTES;
  const next = new Uint8Array(Math.ceil(count / 2) * HASH_BYTES);
  for (let i = 0; i + 1 < count; i += 2) {
    next.set(merkleNode(level.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES), level.subarray((i + 1) * HASH_BYTES, (i + 2) * HASH_BYTES)), (i / 2) * HASH_BYTES);
  }
  if (count % 2 === 1) next.set(level.subarray((count - 1) * HASH_BYTES), ((count - 1) / 2) * HASH_BYTES);
  return next;
}

function checkLeaves(leaves: Uint8Array): number {
  const count = leaves.length / HASH_BYTES;
  if (count < 1 || !Number.isInteger(count)) throw new RangeError("leaves must be a non-empty multiple of 32 bytes");
  return count;
}

/** The root over concatenated leaves (a single leaf is its own root). */
export function merkleRoot(leaves: Uint8Array): Uint8Array {
  checkLeaves(leaves);
  let level = leaves;
  while (level.length > HASH_BYTES) level = levelUp(level);
  return level.slice();
}

/** Every level of the tree, leaves first, root last: built once, then any row opens in O(log R). */
export class MerkleTree {
  private constructor(private readonly levels: readonly Uint8Array[]) {}

  static fromLeaves(leaves: Uint8Array): MerkleTree {
    checkLeaves(leaves);
    const levels = [leaves];
    while (levels.at(-1)!.length > HASH_BYTES) levels.push(levelUp(levels.at(-1)!));
    return new MerkleTree(levels);
  }

  get leafCount(): number {
    return this.levels[0]!.length / HASH_BYTES;
  }

  get root(): Uint8Array {
    return this.levels.at(-1)!.slice();
  }

  /** Sibling hashes from the leaf up to the root, skipping levels where `row`'s node is carried. */
  path(row: number): Uint8Array[] {
    if (!Number.isInteger(row) || row < 0 || row >= this.leafCount) throw new RangeError(`row ${row} is outside 0..${this.leafCount - 1}`);
    const path: Uint8Array[] = [];
    let i = row;
    for (const level of this.levels.slice(0, -1)) {
      const sibling = i ^ 1;
      if (sibling < level.length / HASH_BYTES) path.push(level.slice(sibling * HASH_BYTES, (sibling + 1) * HASH_BYTES));
      i >>= 1;
    }
    return path;
  }
}

/** Number of siblings in the path of `row` among `count` leaves. */
export function pathLength(count: number, row: number): number {
  let n = 0;
  for (let size = count, i = row; size > 1; size = Math.ceil(size / 2), i >>= 1) if ((i ^ 1) < size) n++;
  return n;
}

/**
 * The root implied by one opened row and its path, or null when the path has the wrong
 * length for this row of this tree. Compare the result with work_root.
 */
export function rootFromPath(s: Sizes, row: number, rowBytes: Uint8Array, path: readonly Uint8Array[]): Uint8Array | null {
  const count = rowCount(s);
  if (path.length !== pathLength(count, row) || path.some((p) => p.length !== HASH_BYTES)) return null;
  let node = rowLeaf(s, row, rowBytes);
  let used = 0;
  for (let size = count, i = row; size > 1; size = Math.ceil(size / 2), i >>= 1) {
    if ((i ^ 1) >= size) continue; // carried up unchanged
    const sibling = path[used++]!;
    node = i % 2 === 0 ? merkleNode(node, sibling) : merkleNode(sibling, node);
  }
  return node;
}
