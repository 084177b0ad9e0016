/**
 * BLAKE3 of work_root on the GPU, so only 32 bytes come back per attempt instead of y2
 * (TypeScript BLAKE3 runs at ~55 MB/s, which would dominate an attempt on a real GPU).
 *
 * The message is header ‖ y2 exactly as workRoot() in pipeline.ts hashes it. Three kernels:
 *  1. pack:    message words (header bytes, then y2 rows without their padding), zero-filled
 *              to whole 1 KiB chunks;
 *  2. chunks:  one invocation per 1 KiB chunk computes its chaining value (16 compressions);
 *  3. parents: one dispatch per tree level merges pairs; an odd last node is carried up.
 *
 * Level-wise pairing builds the same tree as BLAKE3's "left subtree = largest power of two
 * chunks" rule: both put every complete power-of-two group of chunks under its own node, and the
 * carried node is always the rightmost. A single-chunk message is finished by the chunk kernel
 * with the ROOT flag. Tests compare against @noble/hashes for lengths around every boundary.
 */

const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
const PERMUTATION = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
export const CHUNK_START = 1;
export const CHUNK_END = 2;
export const PARENT = 4;
export const ROOT = 8;

export const CHUNK_BYTES = 1024;
export const CHUNK_WORDS = 256;

const hex = (v: number): string => `0x${v.toString(16).padStart(8, "0")}u`;

/** The compression function unrolled: message words are renamed per round instead of permuted. */
function compressBody(): string {
  const lines: string[] = [];
  let schedule = Array.from({ length: 16 }, (_, i) => i);
  const g = (a: number, b: number, c: number, d: number, x: number, y: number): void => {
    lines.push(
      `  s${a} = s${a} + s${b} + m${x}; s${d} = rotr(s${d} ^ s${a}, 16u); s${c} = s${c} + s${d}; s${b} = rotr(s${b} ^ s${c}, 12u);`,
      `  s${a} = s${a} + s${b} + m${y}; s${d} = rotr(s${d} ^ s${a}, 8u); s${c} = s${c} + s${d}; s${b} = rotr(s${b} ^ s${c}, 7u);`,
    );
  };
  for (let round = 0; round < 7; round++) {
    const m = schedule;
    g(0, 4, 8, 12, m[0]!, m[1]!);
    g(1, 5, 9, 13, m[2]!, m[3]!);
    g(2, 6, 10, 14, m[4]!, m[5]!);
    g(3, 7, 11, 15, m[6]!, m[7]!);
    g(0, 5, 10, 15, m[8]!, m[9]!);
    g(1, 6, 11, 12, m[10]!, m[11]!);
    g(2, 7, 8, 13, m[12]!, m[13]!);
    g(3, 4, 9, 14, m[14]!, m[15]!);
    schedule = PERMUTATION.map((p) => m[p]!);
  }
  return lines.join("\n");
}

export const COMPRESS = /* wgsl */ `
fn rotr(x: u32, n: u32) -> u32 { return (x >> n) | (x << (32u - n)); }

// BLAKE3 compression truncated to the 8 words a chaining value or a 32-byte root needs.
fn compress(cv: array<u32, 8>, mw: array<u32, 16>, counter: u32, blockLen: u32, flags: u32) -> array<u32, 8> {
${Array.from({ length: 16 }, (_, i) => `  let m${i} = mw[${i}];`).join("\n")}
${Array.from({ length: 8 }, (_, i) => `  var s${i} = cv[${i}];`).join("\n")}
${IV.slice(0, 4)
  .map((v, i) => `  var s${8 + i} = ${hex(v)};`)
  .join("\n")}
  var s12 = counter;
  var s13 = 0u;
  var s14 = blockLen;
  var s15 = flags;
${compressBody()}
  return array<u32, 8>(${Array.from({ length: 8 }, (_, i) => `s${i} ^ s${i + 8}`).join(", ")});
}

const IV = array<u32, 8>(${IV.map(hex).join(", ")});
`;

/** Message layout: total bytes, where y2 sits, and the header (39 bytes) as words. */
export const HASH_PARAMS_STRUCT = /* wgsl */ `
struct HashParams {
  len: u32,        // header + y2 bytes
  headerLen: u32,
  n: u32,          // y2 row length in bytes
  NW: u32,         // y2 row stride in words (padded rows)
  chunks: u32,
  words: u32,      // message words written, chunks * 256
  pad0: u32,
  pad1: u32,
  header: array<vec4u, 4>,
}
`;
/** 8 u32 + 16 header words. */
export const HASH_PARAMS_BYTES = 96;
export const MAX_HEADER_BYTES = 64;

export const PACK_SOURCE = `${HASH_PARAMS_STRUCT}
@group(0) @binding(0) var<uniform> hp: HashParams;
@group(0) @binding(1) var<storage, read> y2: array<u32>;
@group(0) @binding(2) var<storage, read_write> msg: array<u32>;

fn headerByte(p: u32) -> u32 {
  return (hp.header[p >> 4u][(p >> 2u) & 3u] >> (8u * (p & 3u))) & 0xffu;
}

fn y2Byte(q: u32) -> u32 {
  let row = q / hp.n;
  let col = q - row * hp.n;
  return (y2[row * hp.NW + (col >> 2u)] >> (8u * (col & 3u))) & 0xffu;
}

fn messageByte(p: u32) -> u32 {
  if (p < hp.headerLen) { return headerByte(p); }
  if (p < hp.len) { return y2Byte(p - hp.headerLen); }
  return 0u;
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= hp.words) { return; }
  let p = 4u * i;
  msg[i] = messageByte(p) | (messageByte(p + 1u) << 8u) | (messageByte(p + 2u) << 16u) | (messageByte(p + 3u) << 24u);
}
`;

export const CHUNKS_SOURCE = `${HASH_PARAMS_STRUCT}${COMPRESS}
@group(0) @binding(0) var<uniform> hp: HashParams;
@group(0) @binding(1) var<storage, read> msg: array<u32>;
@group(0) @binding(2) var<storage, read_write> cvs: array<u32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = gid.x + gid.y * nwg.x * 64u;
  if (c >= hp.chunks) { return; }
  let last = c + 1u == hp.chunks;
  let chunkLen = select(${CHUNK_BYTES}u, hp.len - c * ${CHUNK_BYTES}u, last);
  let blocks = (chunkLen + 63u) / 64u;
  var cv = IV;
  for (var b = 0u; b < blocks; b++) {
    var mw: array<u32, 16>;
    let base = c * ${CHUNK_WORDS}u + b * 16u;
    for (var i = 0u; i < 16u; i++) { mw[i] = msg[base + i]; }
    let lastBlock = b + 1u == blocks;
    var flags = select(0u, ${CHUNK_START}u, b == 0u) | select(0u, ${CHUNK_END}u, lastBlock);
    if (lastBlock && hp.chunks == 1u) { flags |= ${ROOT}u; }
    let blockLen = select(64u, chunkLen - b * 64u, lastBlock);
    cv = compress(cv, mw, c, blockLen, flags);
  }
  for (var i = 0u; i < 8u; i++) { cvs[c * 8u + i] = cv[i]; }
}
`;

/** One tree level: `count` nodes in, ceil(count/2) out. */
export const LEVEL_STRUCT = /* wgsl */ `
struct Level {
  count: u32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
}
`;

export const PARENTS_SOURCE = `${LEVEL_STRUCT}${COMPRESS}
@group(0) @binding(0) var<uniform> level: Level;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  let outCount = (level.count + 1u) / 2u;
  if (i >= outCount) { return; }
  var out: array<u32, 8>;
  if (2u * i + 1u < level.count) {
    var mw: array<u32, 16>;
    for (var j = 0u; j < 16u; j++) { mw[j] = src[16u * i + j]; }
    let flags = ${PARENT}u | select(0u, ${ROOT}u, level.count == 2u);
    out = compress(IV, mw, 0u, 64u, flags);
  } else {
    for (var j = 0u; j < 8u; j++) { out[j] = src[16u * i + j]; }
  }
  for (var j = 0u; j < 8u; j++) { dst[8u * i + j] = out[j]; }
}
`;

/** Node counts of each parent level, bottom up, for a message of `chunks` chunks. */
export function levelCounts(chunks: number): number[] {
  const counts: number[] = [];
  for (let c = chunks; c > 1; c = Math.ceil(c / 2)) counts.push(c);
  return counts;
}
