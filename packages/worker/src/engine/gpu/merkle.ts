/**
 * work_root v2 on the GPU: one BLAKE3 leaf per row of y2, then the Merkle tree over the leaves
 * (protocol v2: leaf(r) = BLAKE3(LEAF_PREFIX ‖ u32le m, n, k, batch, r ‖ y2[r]), node(a, b) =
 * BLAKE3(NODE_PREFIX ‖ a ‖ b), pairs level by level, an odd last node carried up unchanged).
 *
 *  1. leaf-chunks: one invocation per (row, 1 KiB chunk of that row's message). The message is
 *     never stored: its words are the 13 header words (prefix, sizes, row: 52 bytes, word
 *     aligned) followed by the row's packed y2 words (whose bytes past n are 0, as BLAKE3's
 *     padding wants). A one-chunk message (n ≤ 972) is finished here with the ROOT flag and
 *     written as the leaf.
 *  2. leaf-parents (only when a row spans several chunks): per level, pairs of chaining values
 *     within each row's message; the level of two nodes carries ROOT and writes the leaf.
 *  3. nodes: per tree level, node(a, b) is one 96-byte chunk, i.e. two compressions (prefix ‖ a,
 *     then b with CHUNK_END | ROOT); an odd last node is copied up.
 * The leaves stay in their own buffer: they are read back with the root (the worker keeps them
 * to open rows for audits).
 */
import { CHUNK_BYTES, CHUNK_END, CHUNK_START, COMPRESS, PARENT, ROOT } from "./blake3";

/** Bytes of the leaf header: 32-byte prefix, u32le m, n, k, batch, row. */
export const LEAF_HEADER_BYTES = 52;
export const LEAF_HEADER_WORDS = LEAF_HEADER_BYTES / 4;

/** Chunks of one row's leaf message (header ‖ n bytes). */
export const leafChunks = (n: number): number => Math.ceil((LEAF_HEADER_BYTES + n) / CHUNK_BYTES);

/** Node counts of each level, bottom up, while more than one node is left. */
export function treeLevels(count: number): number[] {
  const levels: number[] = [];
  for (let c = count; c > 1; c = Math.ceil(c / 2)) levels.push(c);
  return levels;
}

/**
 * Leaf parameters: rows, n, NW (y2 row stride in words), chunks per leaf, message bytes, then
 * the 12 header words shared by every row (leaf prefix and m, n, k, batch); the 13th is the row.
 */
export const LEAF_PARAMS_STRUCT = /* wgsl */ `
struct LeafParams {
  rows: u32,
  n: u32,
  NW: u32,
  chunks: u32,
  len: u32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
  header: array<vec4u, 3>,
}
`;
export const LEAF_PARAMS_BYTES = 80;

/** One level of a tree: `count` nodes in, per row (leaf-parents) or in all (nodes). */
export const TREE_LEVEL_STRUCT = /* wgsl */ `
struct TreeLevel {
  count: u32,
  rows: u32,
  stride: u32,
  pad0: u32,
}
`;
/** Uniform slots of consecutive levels sit this far apart (minUniformBufferOffsetAlignment ≤ 256). */
export const TREE_LEVEL_SLOT = 256;

const INDEX = "let i = gid.x + gid.y * nwg.x * 64u;";

export const LEAF_CHUNKS_SOURCE = `${LEAF_PARAMS_STRUCT}${COMPRESS}
@group(0) @binding(0) var<uniform> lp: LeafParams;
@group(0) @binding(1) var<storage, read> y2: array<u32>;
@group(0) @binding(2) var<storage, read_write> cvs: array<u32>;
@group(0) @binding(3) var<storage, read_write> leaves: array<u32>;

fn messageWord(row: u32, w: u32) -> u32 {
  if (w < 12u) { return lp.header[w >> 2u][w & 3u]; }
  if (w == 12u) { return row; }
  let j = w - ${LEAF_HEADER_WORDS}u;
  if (j < lp.NW) { return y2[row * lp.NW + j]; }
  return 0u;
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  ${INDEX}
  if (i >= lp.rows * lp.chunks) { return; }
  let row = i / lp.chunks;
  let c = i - row * lp.chunks;
  let last = c + 1u == lp.chunks;
  let chunkLen = select(${CHUNK_BYTES}u, lp.len - c * ${CHUNK_BYTES}u, last);
  let blocks = (chunkLen + 63u) / 64u;
  var cv = IV;
  for (var b = 0u; b < blocks; b++) {
    var mw: array<u32, 16>;
    let base = c * 256u + b * 16u;
    for (var j = 0u; j < 16u; j++) { mw[j] = messageWord(row, base + j); }
    let lastBlock = b + 1u == blocks;
    var flags = select(0u, ${CHUNK_START}u, b == 0u) | select(0u, ${CHUNK_END}u, lastBlock);
    if (lastBlock && lp.chunks == 1u) { flags |= ${ROOT}u; }
    cv = compress(cv, mw, c, select(64u, chunkLen - b * 64u, lastBlock), flags);
  }
  if (lp.chunks == 1u) {
    for (var j = 0u; j < 8u; j++) { leaves[row * 8u + j] = cv[j]; }
  } else {
    for (var j = 0u; j < 8u; j++) { cvs[i * 8u + j] = cv[j]; }
  }
}
`;

/** Parents within each row's message; stride = chunks per row; the last level writes the leaf. */
export const LEAF_PARENTS_SOURCE = `${TREE_LEVEL_STRUCT}${COMPRESS}
@group(0) @binding(0) var<uniform> level: TreeLevel;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;
@group(0) @binding(3) var<storage, read_write> leaves: array<u32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  ${INDEX}
  let half = (level.count + 1u) / 2u;
  if (i >= level.rows * half) { return; }
  let row = i / half;
  let p = i - row * half;
  let s = (row * level.stride + 2u * p) * 8u;
  var out: array<u32, 8>;
  if (2u * p + 1u < level.count) {
    var mw: array<u32, 16>;
    for (var j = 0u; j < 16u; j++) { mw[j] = src[s + j]; }
    out = compress(IV, mw, 0u, 64u, ${PARENT}u | select(0u, ${ROOT}u, level.count == 2u));
  } else {
    for (var j = 0u; j < 8u; j++) { out[j] = src[s + j]; }
  }
  if (level.count == 2u) {
    for (var j = 0u; j < 8u; j++) { leaves[row * 8u + j] = out[j]; }
  } else {
    let d = (row * level.stride + p) * 8u;
    for (var j = 0u; j < 8u; j++) { dst[d + j] = out[j]; }
  }
}
`;

/** One level of the row tree: node(a, b) = BLAKE3(NODE_PREFIX ‖ a ‖ b), a 96-byte single chunk. */
export const NODES_SOURCE = `${TREE_LEVEL_STRUCT}${COMPRESS}
@group(0) @binding(0) var<uniform> level: TreeLevel;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;
@group(0) @binding(3) var<uniform> nodePrefix: array<vec4u, 2>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  ${INDEX}
  let half = (level.count + 1u) / 2u;
  if (i >= half) { return; }
  var out: array<u32, 8>;
  if (2u * i + 1u < level.count) {
    var first: array<u32, 16>;
    for (var j = 0u; j < 8u; j++) { first[j] = nodePrefix[j >> 2u][j & 3u]; first[8u + j] = src[16u * i + j]; }
    let cv = compress(IV, first, 0u, 64u, ${CHUNK_START}u);
    var second: array<u32, 16>;
    for (var j = 0u; j < 8u; j++) { second[j] = src[16u * i + 8u + j]; second[8u + j] = 0u; }
    out = compress(cv, second, 0u, 32u, ${CHUNK_END}u | ${ROOT}u);
  } else {
    for (var j = 0u; j < 8u; j++) { out[j] = src[16u * i + j]; }
  }
  for (var j = 0u; j < 8u; j++) { dst[8u * i + j] = out[j]; }
}
`;
