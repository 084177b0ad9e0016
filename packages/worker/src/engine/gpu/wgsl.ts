/**
 * WGSL sources, generated from TypeScript so tile shapes are compile-time constants and the
 * register-blocked inner loops are unrolled into named scalars (every backend compiler keeps
 * those in registers; arrays indexed in loops often end up in scratch memory).
 *
 * Integer semantics follow the protocol exactly: u32 arithmetic wraps in WGSL as Math.imul and
 * `>>> 0` do in prng.ts, and every accumulator fits in i32 (|acc| ≤ k·2^14 ≤ 2^30).
 */

/** Workgroups per dispatch dimension that every device allows; larger grids fold into z. */
export const FOLD = 65535;

/** Shared helpers: the protocol's generator (prng.ts) and requantization (pipeline.ts). */
export const COMMON = /* wgsl */ `
fn fmix32(h0: u32) -> u32 {
  var h = h0;
  h ^= h >> 16u;
  h *= 0x85ebca6bu;
  h ^= h >> 13u;
  h *= 0xc2b2ae35u;
  h ^= h >> 16u;
  return h;
}

// genWord(key, row, col4) of prng.ts: four int8 of row "row", columns 4*col4.., lowest byte first.
fn genWord(key: vec4u, row: u32, col4: u32) -> u32 {
  var x = fmix32(key.x ^ row);
  x = fmix32(x ^ key.y ^ col4);
  x = fmix32(x + key.z);
  return x ^ key.w;
}

// requant of pipeline.ts: ReLU, round half up, clamp to 127.
fn requant(acc: i32, shift: u32) -> u32 {
  if (acc <= 0) { return 0u; }
  return min((u32(acc) + (1u << (shift - 1u))) >> shift, 127u);
}

fn pack4(acc: vec4i, shift: u32) -> u32 {
  return requant(acc.x, shift) | (requant(acc.y, shift) << 8u) | (requant(acc.z, shift) << 16u) | (requant(acc.w, shift) << 24u);
}
`;

/**
 * Per-layer sizes. Layer 1: A = generated (rows × KW words), B = W1ᵀ (N × KW), out = y1.
 * Layer 2: A = y1 (rows × NW), B = W2ᵀ (N × NW), out = y2. Outputs are rows × NW words.
 */
export const DIMS_STRUCT = /* wgsl */ `
struct Dims {
  M: u32,        // rows of A and of the output (batch·m)
  N: u32,        // output columns (n)
  KW: u32,       // words per row of A and B: ceil(K/4)
  NW: u32,       // words per output row: ceil(N/4)
  shift: u32,    // requantization shift of this layer
  tailMask: u32, // mask of the last word of a generated A row (k not a multiple of 4)
  pad0: u32,
  pad1: u32,
}
`;
export const DIMS_BYTES = 32;

/** Register-blocked tile: each invocation owns rm rows × rn column words (4·rn columns). */
export interface TileShape {
  readonly wgX: number;
  readonly wgY: number;
  readonly rm: number;
  readonly rn: number;
  /** k words per shared-memory stage. */
  readonly bk: number;
}

export const tileRows = (t: TileShape): number => t.wgY * t.rm;
export const tileColWords = (t: TileShape): number => t.wgX * t.rn;

/** Where the GEMM reads A: generated from the key (layer 1) or loaded from a buffer. */
export type ASource = "gen" | "buffer";

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function gemmBindings(a: ASource): string {
  return `${DIMS_STRUCT}
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> wt: array<u32>;
@group(0) @binding(2) var<storage, read_write> outp: array<u32>;
${a === "gen" ? "@group(0) @binding(3) var<uniform> key: vec4u;" : "@group(0) @binding(3) var<storage, read> av: array<u32>;"}

fn loadA(row: u32, w: u32) -> u32 {
${
  a === "gen"
    ? "  return genWord(key, row, w) & select(0xffffffffu, dims.tailMask, w + 1u == dims.KW);"
    : "  return av[row * dims.KW + w];"
}
}
`;
}

/** Cooperative tile loads, shared by the dot4 and f32 kernels; `store` writes one word. */
function tileLoads(t: TileShape, storeA: (r: string, kk: string, v: string) => string, storeB: (c: string, kk: string, v: string) => string): string {
  const nt = t.wgX * t.wgY;
  const bm = tileRows(t);
  const bn = 4 * tileColWords(t);
  const loop = (count: number, body: string): string =>
    count % nt === 0
      ? range(count / nt)
          .map((i) => `    { let t = li + ${i * nt}u;\n${body}\n    }`)
          .join("\n")
      : `    for (var t = li; t < ${count}u; t += ${nt}u) {\n${body}\n    }`;
  // Consecutive invocations take consecutive k words of a row: coalesced global reads.
  const a = `      let r = t / ${t.bk}u; let kk = t % ${t.bk}u;
      let gr = row0 + r; let gk = k0 + kk;
      var v = 0u;
      if (gr < dims.M && gk < dims.KW) { v = loadA(gr, gk); }
      ${storeA("r", "kk", "v")}`;
  const b = `      let c = t / ${t.bk}u; let kk = t % ${t.bk}u;
      let gc = col0 + c; let gk = k0 + kk;
      var v = 0u;
      if (gc < dims.N && gk < dims.KW) { v = wt[gc * dims.KW + gk]; }
      ${storeB("c", "kk", "v")}`;
  return `${loop(bm * t.bk, a)}\n${loop(bn * t.bk, b)}`;
}

function gemmPrologue(): string {
  return `  // Grid y is folded into z past ${FOLD} row tiles; surplus workgroups leave (uniformly).
  let row0 = (wid.y + wid.z * ${FOLD}u) * BM;
  if (row0 >= dims.M) { return; }
  let cw0 = wid.x * BNW;
  let col0 = cw0 * 4u;
  let tx = lid.x;
  let ty = lid.y;`;
}

function gemmEpilogue(t: TileShape, acc: (i: number, j: number) => string): string {
  const lines: string[] = [];
  for (const i of range(t.rm)) {
    lines.push(`  { let r = row0 + ty + ${i * t.wgY}u;`);
    lines.push(`    if (r < dims.M) {`);
    for (const j of range(t.rn)) {
      lines.push(`      { let cw = cw0 + tx + ${j * t.wgX}u; if (cw < dims.NW) { outp[r * dims.NW + cw] = pack4(${acc(i, j)}, dims.shift); } }`);
    }
    lines.push(`    }\n  }`);
  }
  return lines.join("\n");
}

function tileConsts(t: TileShape): string {
  return `const BM = ${tileRows(t)}u;
const BNW = ${tileColWords(t)}u;
const BK = ${t.bk}u;`;
}

/**
 * Tiled int8 GEMM with dot4I8Packed. Shared tiles hold packed words: As[k][row], and Bs[k][cw]
 * as vec4u (the four W rows of output columns 4cw..4cw+3), so one 16-byte shared load feeds
 * four dot products. Bytes beyond n come out as 0 because their W rows load as 0.
 */
export function gemmDot4Source(t: TileShape, a: ASource): string {
  const bm = tileRows(t);
  const bnw = tileColWords(t);
  const accDecl = range(t.rm)
    .flatMap((i) => range(t.rn).map((j) => `  var acc${i}_${j} = vec4i(0);`))
    .join("\n");
  const inner = [
    ...range(t.rm).map((i) => `      let a${i} = As[kk * BM + ty + ${i * t.wgY}u];`),
    ...range(t.rn).map((j) => `      let b${j} = Bs[kk * BNW + tx + ${j * t.wgX}u];`),
    ...range(t.rm).flatMap((i) =>
      range(t.rn).map(
        (j) =>
          `      acc${i}_${j} += vec4i(dot4I8Packed(a${i}, b${j}.x), dot4I8Packed(a${i}, b${j}.y), dot4I8Packed(a${i}, b${j}.z), dot4I8Packed(a${i}, b${j}.w));`,
      ),
    ),
  ].join("\n");
  return `${COMMON}${gemmBindings(a)}
${tileConsts(t)}
var<workgroup> As: array<u32, ${bm * t.bk}>;
var<workgroup> Bs: array<vec4u, ${bnw * t.bk}>;

@compute @workgroup_size(${t.wgX}, ${t.wgY}, 1)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u) {
${gemmPrologue()}
${accDecl}
  for (var k0 = 0u; k0 < dims.KW; k0 += BK) {
${tileLoads(
  t,
  (r, kk, v) => `As[${kk} * BM + ${r}] = ${v};`,
  (c, kk, v) => `Bs[${kk} * BNW + (${c} >> 2u)][${c} & 3u] = ${v};`,
)}
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
${inner}
    }
    workgroupBarrier();
  }
${gemmEpilogue(t, (i, j) => `acc${i}_${j}`)}
}
`;
}

/** k words accumulated in f32 before flushing into i32: 1024 products of |p| ≤ 2^14 stay ≤ 2^24, exact in f32. */
export const F32_FLUSH_WORDS = 256;

/**
 * Tiled GEMM in f32 FMA, exact: int8 products are at most 2^14 in magnitude, so any partial
 * sum of at most 1024 of them is an integer of magnitude ≤ 2^24, which f32 represents exactly
 * whatever the order of additions or fusing. Every 1024 k elements the f32 partials are added
 * into i32 accumulators, which makes it exact for every k. Tiles hold unpacked f32 values.
 */
export function gemmF32Source(t: TileShape, a: ASource): string {
  if (F32_FLUSH_WORDS % t.bk !== 0) throw new RangeError("bk must divide 256 for the f32 kernel");
  const bm = tileRows(t);
  const bnw = tileColWords(t);
  const k4 = 4 * t.bk;
  const decl = range(t.rm)
    .flatMap((i) => range(t.rn).map((j) => `  var acc${i}_${j} = vec4i(0);\n  var f${i}_${j} = vec4f(0.0);`))
    .join("\n");
  const inner = [
    ...range(t.rm).map((i) => `      let a${i} = As[k * BM + ty + ${i * t.wgY}u];`),
    ...range(t.rn).map((j) => `      let b${j} = Bs[k * BNW + tx + ${j * t.wgX}u];`),
    ...range(t.rm).flatMap((i) => range(t.rn).map((j) => `      f${i}_${j} = fma(vec4f(a${i}), b${j}, f${i}_${j});`)),
  ].join("\n");
  const flush = range(t.rm)
    .flatMap((i) => range(t.rn).map((j) => `      acc${i}_${j} += vec4i(f${i}_${j}); f${i}_${j} = vec4f(0.0);`))
    .join("\n");
  return `${COMMON}${gemmBindings(a)}
${tileConsts(t)}
const BK4 = ${k4}u;
var<workgroup> As: array<f32, ${bm * k4}>;
var<workgroup> Bs: array<vec4f, ${bnw * k4}>;

fn unpack(v: u32) -> vec4f {
  let s = bitcast<i32>(v);
  return vec4f(f32(extractBits(s, 0u, 8u)), f32(extractBits(s, 8u, 8u)), f32(extractBits(s, 16u, 8u)), f32(extractBits(s, 24u, 8u)));
}

@compute @workgroup_size(${t.wgX}, ${t.wgY}, 1)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u) {
${gemmPrologue()}
${decl}
  for (var k0 = 0u; k0 < dims.KW; k0 += BK) {
${tileLoads(
  t,
  (r, kk, v) => `let e = unpack(${v}); let base = 4u * ${kk} * BM + ${r};
      As[base] = e.x; As[base + BM] = e.y; As[base + 2u * BM] = e.z; As[base + 3u * BM] = e.w;`,
  (c, kk, v) => `let e = unpack(${v}); let base = 4u * ${kk} * BNW + (${c} >> 2u); let q = ${c} & 3u;
      Bs[base][q] = e.x; Bs[base + BNW][q] = e.y; Bs[base + 2u * BNW][q] = e.z; Bs[base + 3u * BNW][q] = e.w;`,
)}
    workgroupBarrier();
    for (var k = 0u; k < BK4; k++) {
${inner}
    }
    if ((k0 + BK) % ${F32_FLUSH_WORDS}u == 0u || k0 + BK >= dims.KW) {
${flush}
    }
    workgroupBarrier();
  }
${gemmEpilogue(t, (i, j) => `acc${i}_${j}`)}
}
`;
}

/** Materializes A (rows × KW words) from the key, for kernels that read A from memory. */
export const GEN_A_SOURCE = `${COMMON}${DIMS_STRUCT}
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<uniform> key: vec4u;
@group(0) @binding(2) var<storage, read_write> av: array<u32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let row = wid.y + wid.z * ${FOLD}u;
  let w = gid.x;
  if (row >= dims.M || w >= dims.KW) { return; }
  av[row * dims.KW + w] = genWord(key, row, w) & select(0xffffffffu, dims.tailMask, w + 1u == dims.KW);
}
`;

/**
 * Baseline for the benchmark: one invocation per output element, straight from global memory,
 * no tiles. Bytes are merged into the packed output with atomicOr, so the output must be
 * cleared first.
 */
/** Side of the naive kernel's square workgroup. */
export const NAIVE_WG = 8;

export const NAIVE_SOURCE = `${COMMON}${DIMS_STRUCT}
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> wt: array<u32>;
@group(0) @binding(2) var<storage, read_write> outp: array<atomic<u32>>;
@group(0) @binding(3) var<storage, read> av: array<u32>;

@compute @workgroup_size(${NAIVE_WG}, ${NAIVE_WG}, 1)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let row = (wid.y + wid.z * ${FOLD}u) * ${NAIVE_WG}u + lid.y;
  let col = wid.x * ${NAIVE_WG}u + lid.x;
  if (row >= dims.M || col >= dims.N) { return; }
  var acc = 0i;
  for (var w = 0u; w < dims.KW; w++) {
    acc += dot4I8Packed(av[row * dims.KW + w], wt[col * dims.KW + w]);
  }
  atomicOr(&outp[row * dims.NW + (col >> 2u)], requant(acc, dims.shift) << (8u * (col & 3u)));
}
`;

/** Shape of one i8 × i8 → i32 subgroup-matrix multiply offered by the adapter. */
export interface MatrixShape {
  readonly M: number;
  readonly N: number;
  readonly K: number;
}

/**
 * Subgroup-matrix GEMM (Dawn's chromium_experimental_subgroup_matrix; tensor cores through
 * VK_KHR_cooperative_matrix or Metal simdgroup matrices). UNTESTED ON HARDWARE: written from
 * Dawn's feature document; the engine runs it only after it matched the reference bit for bit.
 *
 * Each subgroup owns one M×N block of the i32 accumulator (rows·n i32, row-major) and walks k
 * in steps of K. A is read as row-major i8 (stride k), Wᵀ as column-major i8 (the right matrix
 * element (kk, j) is Wᵀ[j][kk]). Sizes must be multiples of the shape (checked by the variant).
 * A second kernel (REQUANT_SOURCE) applies requant and packs.
 */
export function subgroupMatrixSource(s: MatrixShape, subgroupsPerGroup: number, subgroupMaxSize: number): string {
  return `enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium_experimental.subgroup_matrix_uniformity);
${DIMS_STRUCT}
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> wt: array<i32>;
@group(0) @binding(2) var<storage, read_write> accOut: array<i32>;
@group(0) @binding(3) var<storage, read> av: array<i32>;

@compute @workgroup_size(${subgroupsPerGroup * subgroupMaxSize}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_id) sg: u32, @builtin(num_subgroups) nsg: u32) {
  let k = dims.KW * 4u;
  let blocksX = dims.N / ${s.N}u;
  let blocks = (dims.M / ${s.M}u) * blocksX;
  let first = (wid.x + wid.y * ${FOLD}u) * nsg + sg;
  if (first >= blocks) { return; }
  let row0 = (first / blocksX) * ${s.M}u;
  let col0 = (first % blocksX) * ${s.N}u;
  var acc = subgroup_matrix_result<i32, ${s.N}, ${s.M}>();
  for (var k0 = 0u; k0 < k; k0 += ${s.K}u) {
    let l = subgroupMatrixLoad<subgroup_matrix_left<i8, ${s.K}, ${s.M}>>(&av, row0 * k + k0, false, k);
    let r = subgroupMatrixLoad<subgroup_matrix_right<i8, ${s.N}, ${s.K}>>(&wt, col0 * k + k0, true, k);
    acc = subgroupMatrixMultiplyAccumulate(l, r, acc);
  }
  subgroupMatrixStore(&accOut, row0 * dims.N + col0, acc, false, dims.N);
}
`;
}

/** requant + pack of an i32 accumulator matrix (rows × N) into packed output words. */
export const REQUANT_SOURCE = `${COMMON}${DIMS_STRUCT}
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> acc: array<i32>;
@group(0) @binding(2) var<storage, read_write> outp: array<u32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let row = wid.y + wid.z * ${FOLD}u;
  let cw = gid.x;
  if (row >= dims.M || cw >= dims.NW) { return; }
  var v = vec4i(0);
  for (var q = 0u; q < 4u; q++) {
    let col = 4u * cw + q;
    if (col < dims.N) { v[q] = acc[row * dims.N + col]; }
  }
  outp[row * dims.NW + cw] = pack4(v, dims.shift);
}
`;

/** Subgroup k-split kernel: one workgroup per block of `rm` rows × `rn` output words. */
export interface SplitShape {
  /** Invocations per workgroup (any multiple of the subgroup size works; 64 suits 8…64-wide subgroups). */
  readonly lanes: number;
  readonly rm: number;
  readonly rn: number;
}

/**
 * GEMM with the k dimension split across the lanes of a workgroup and reduced with
 * `subgroupAdd` (WGSL `subgroups`), then across the workgroup's subgroups with workgroup
 * atomics. No shared tiles: lane l reads k words l, l + lanes, … of the block's A rows and W
 * rows, so neighbouring lanes read neighbouring words. Integer addition is associative, so
 * the order of the reduction cannot change a bit: exact like the tiled kernels. Every
 * subgroup operation sits in uniform control flow (the k loop's trip count is the same for
 * all lanes; out-of-range words load as 0).
 */
export function subgroupSplitSource(s: SplitShape, a: ASource): string {
  const accs = range(s.rm).flatMap((i) => range(s.rn).map((j) => [i, j] as const));
  const values = s.rm * s.rn * 4;
  return `enable subgroups;
${COMMON}${gemmBindings(a)}
const RM = ${s.rm}u;
const RN = ${s.rn}u;
const LANES = ${s.lanes}u;
var<workgroup> red: array<atomic<i32>, ${values}>;

@compute @workgroup_size(${s.lanes}, 1, 1)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) sgLane: u32) {
  let row0 = (wid.y + wid.z * ${FOLD}u) * RM;
  if (row0 >= dims.M) { return; }
  let cw0 = wid.x * RN;
${accs.map(([i, j]) => `  var acc${i}_${j} = vec4i(0);`).join("\n")}
  for (var k0 = 0u; k0 < dims.KW; k0 += LANES) {
    let w = k0 + li;
    let inK = w < dims.KW;
${range(s.rm)
  .map((i) => `    var a${i} = 0u; if (inK && row0 + ${i}u < dims.M) { a${i} = loadA(row0 + ${i}u, w); }`)
  .join("\n")}
${range(s.rn)
  .map(
    (j) =>
      `    var b${j} = vec4u(0u);\n` +
      range(4)
        .map((q) => `    { let c = (cw0 + ${j}u) * 4u + ${q}u; if (inK && c < dims.N) { b${j}[${q}] = wt[c * dims.KW + w]; } }`)
        .join("\n"),
  )
  .join("\n")}
${accs.map(([i, j]) => `    acc${i}_${j} += vec4i(dot4I8Packed(a${i}, b${j}.x), dot4I8Packed(a${i}, b${j}.y), dot4I8Packed(a${i}, b${j}.z), dot4I8Packed(a${i}, b${j}.w));`).join("\n")}
  }
${accs
  .map(
    ([i, j]) => `  {
    let s = subgroupAdd(acc${i}_${j});
    if (sgLane == 0u) {
${range(4)
  .map((q) => `      atomicAdd(&red[${(i * s.rn + j) * 4 + q}u], s[${q}]);`)
  .join("\n")}
    }
  }`,
  )
  .join("\n")}
  workgroupBarrier();
  if (li < RM * RN) {
    let i = li / RN;
    let j = li % RN;
    let r = row0 + i;
    let cw = cw0 + j;
    if (r < dims.M && cw < dims.NW) {
      let base = li * 4u;
      let v = vec4i(atomicLoad(&red[base]), atomicLoad(&red[base + 1u]), atomicLoad(&red[base + 2u]), atomicLoad(&red[base + 3u]));
      outp[r * dims.NW + cw] = pack4(v, dims.shift);
    }
  }
}
`;
}
