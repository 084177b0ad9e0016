/**
 * Kernel variants: the ways one attempt can be computed on a device, all bit-exact. Each says
 * what it needs from the device and which dispatches make up an attempt; the runner compiles
 * and binds them, the chooser times them.
 */
import type { Sizes } from "@tops/protocol";
import type { DeviceCaps, SubgroupMatrixConfig } from "./device";
import {
  FOLD,
  GEN_A_SOURCE,
  NAIVE_SOURCE,
  NAIVE_WG,
  REQUANT_SOURCE,
  gemmDot4Source,
  gemmF32Source,
  subgroupMatrixSource,
  subgroupSplitSource,
  tileColWords,
  tileRows,
  type SplitShape,
  type TileShape,
} from "./wgsl";

export type VariantFamily = "dot4" | "sg" | "f32" | "sgmat" | "naive";

/** Buffers of one size, as a variant binds them. */
export interface PlanBuffers {
  readonly rows: number;
  readonly n: number;
  readonly KW: number;
  readonly NW: number;
  readonly dims1: GPUBuffer;
  readonly dims2: GPUBuffer;
  readonly key: GPUBuffer;
  readonly w1: GPUBuffer;
  readonly w2: GPUBuffer;
  readonly y1: GPUBuffer;
  readonly y2: GPUBuffer;
  /** Materialized A (rows × KW), for variants with needsA. */
  readonly a?: GPUBuffer;
  /** i32 accumulators (rows × n), for variants with needsAcc. */
  readonly acc?: GPUBuffer;
}

/** One dispatch: a pipeline (cached by `pipeline`), its bindings and its grid. */
export interface Step {
  readonly pipeline: string;
  readonly source: () => string;
  readonly entries: readonly GPUBindGroupEntry[];
  readonly grid: readonly [number, number, number];
}

export interface Variant {
  readonly name: string;
  readonly family: VariantFamily;
  /** False for code that has only been compiled, never run, on real hardware (see ENGINE.md). */
  readonly testedOnHardware: boolean;
  /** Candidate for automatic selection (the naive baseline is not). */
  readonly auto: boolean;
  readonly needsA: boolean;
  readonly needsAcc: boolean;
  /** Outputs are OR-ed into, so y1 and y2 are cleared before the attempt. */
  readonly clearsOutputs: boolean;
  /** Why the device cannot run it, or null. */
  unsupported(caps: DeviceCaps): string | null;
  /** Why it cannot run these sizes, or null. */
  unsupportedSizes(sizes: Sizes): string | null;
  steps(b: PlanBuffers): Step[];
}

const buf = (binding: number, buffer: GPUBuffer): GPUBindGroupEntry => ({ binding, resource: { buffer } });

/** Grid with y folded into z past FOLD workgroups (kernels recombine wid.y + wid.z·FOLD). */
export function foldGrid(x: number, y: number): [number, number, number] {
  return y > FOLD ? [x, FOLD, Math.ceil(y / FOLD)] : [x, Math.max(1, y), 1];
}

const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);

function tileLabel(t: TileShape): string {
  return `${t.wgX}x${t.wgY}r${t.rm}x${t.rn}k${t.bk}`;
}

function tileProblem(t: TileShape, caps: DeviceCaps, sharedBytes: number): string | null {
  if (t.wgX * t.wgY > caps.maxInvocations) return `needs ${t.wgX * t.wgY} invocations per workgroup, device allows ${caps.maxInvocations}`;
  if (t.wgX > caps.maxWorkgroupSizeX || t.wgY > caps.maxWorkgroupSizeY) return "workgroup size above the device limit";
  if (sharedBytes > caps.maxWorkgroupStorage) return `needs ${sharedBytes} B of workgroup memory, device allows ${caps.maxWorkgroupStorage}`;
  return null;
}

function tiledVariant(family: "dot4" | "f32", t: TileShape): Variant {
  const bm = tileRows(t);
  const bnw = tileColWords(t);
  const shared = family === "dot4" ? bm * t.bk * 4 + bnw * t.bk * 16 : bm * 4 * t.bk * 4 + bnw * 4 * t.bk * 16;
  const name = `${family}-${tileLabel(t)}`;
  const source = family === "dot4" ? gemmDot4Source : gemmF32Source;
  return {
    name,
    family,
    testedOnHardware: true,
    auto: true,
    needsA: false,
    needsAcc: false,
    clearsOutputs: false,
    unsupported: (caps) => (family === "dot4" && !caps.dot4 ? "WGSL packed_4x8_integer_dot_product (dot4I8Packed) is missing" : tileProblem(t, caps, shared)),
    unsupportedSizes: () => null,
    steps: (b) => [
      {
        pipeline: `${name}/gen`,
        source: () => source(t, "gen"),
        entries: [buf(0, b.dims1), buf(1, b.w1), buf(2, b.y1), buf(3, b.key)],
        grid: foldGrid(ceilDiv(b.NW, bnw), ceilDiv(b.rows, bm)),
      },
      {
        pipeline: `${name}/buffer`,
        source: () => source(t, "buffer"),
        entries: [buf(0, b.dims2), buf(1, b.w2), buf(2, b.y2), buf(3, b.y1)],
        grid: foldGrid(ceilDiv(b.NW, bnw), ceilDiv(b.rows, bm)),
      },
    ],
  };
}

function genAStep(b: PlanBuffers): Step {
  return {
    pipeline: "gen-a",
    source: () => GEN_A_SOURCE,
    entries: [buf(0, b.dims1), buf(1, b.key), buf(2, b.a!)],
    grid: foldGrid(ceilDiv(b.KW, 64), b.rows),
  };
}

export const naiveVariant: Variant = {
  name: "naive",
  family: "naive",
  testedOnHardware: true,
  auto: false,
  needsA: true,
  needsAcc: false,
  clearsOutputs: true,
  unsupported: (caps) => (caps.dot4 ? null : "WGSL packed_4x8_integer_dot_product is missing"),
  unsupportedSizes: () => null,
  steps: (b) => [
    genAStep(b),
    { pipeline: "naive", source: () => NAIVE_SOURCE, entries: [buf(0, b.dims1), buf(1, b.w1), buf(2, b.y1), buf(3, b.a!)], grid: foldGrid(ceilDiv(b.n, NAIVE_WG), ceilDiv(b.rows, NAIVE_WG)) },
    { pipeline: "naive", source: () => NAIVE_SOURCE, entries: [buf(0, b.dims2), buf(1, b.w2), buf(2, b.y2), buf(3, b.y1)], grid: foldGrid(ceilDiv(b.n, NAIVE_WG), ceilDiv(b.rows, NAIVE_WG)) },
  ],
};

/** Subgroups per workgroup of the subgroup-matrix kernel. */
const SGMAT_SUBGROUPS = 4;

function subgroupMatrixVariant(cfg: SubgroupMatrixConfig, subgroupMaxSize: number): Variant {
  const shape = { M: cfg.M, N: cfg.N, K: cfg.K };
  const name = `sgmat-${cfg.M}x${cfg.N}x${cfg.K}`;
  const requant = (dims: GPUBuffer, acc: GPUBuffer, out: GPUBuffer, b: PlanBuffers): Step => ({
    pipeline: "requant",
    source: () => REQUANT_SOURCE,
    entries: [buf(0, dims), buf(1, acc), buf(2, out)],
    grid: foldGrid(ceilDiv(b.NW, 64), b.rows),
  });
  const mm = (dims: GPUBuffer, w: GPUBuffer, a: GPUBuffer, b: PlanBuffers): Step => {
    const groups = ceilDiv((b.rows / cfg.M) * (b.n / cfg.N), SGMAT_SUBGROUPS);
    return {
      pipeline: name,
      source: () => subgroupMatrixSource(shape, SGMAT_SUBGROUPS, subgroupMaxSize),
      entries: [buf(0, dims), buf(1, w), buf(2, b.acc!), buf(3, a)],
      grid: groups > FOLD ? [FOLD, ceilDiv(groups, FOLD), 1] : [groups, 1, 1],
    };
  };
  return {
    name,
    family: "sgmat",
    testedOnHardware: false,
    auto: true,
    needsA: true,
    needsAcc: true,
    clearsOutputs: false,
    unsupported: (caps) =>
      subgroupMaxSize > 0 && SGMAT_SUBGROUPS * subgroupMaxSize <= caps.maxInvocations ? null : "subgroup size unknown or workgroup too large",
    unsupportedSizes: (s) => {
      const rows = s.m * s.batch;
      if (rows % cfg.M || s.n % cfg.N || s.k % cfg.K || s.n % cfg.K) return `needs batch·m % ${cfg.M}, n % ${cfg.N}, k and n % ${cfg.K} all 0`;
      return null;
    },
    steps: (b) => [genAStep(b), mm(b.dims1, b.w1, b.a!, b), requant(b.dims1, b.acc!, b.y1, b), mm(b.dims2, b.w2, b.y1, b), requant(b.dims2, b.acc!, b.y2, b)],
  };
}

/** Subgroup k-split variant (see subgroupSplitSource): needs `subgroups` and dot4. */
function subgroupSplitVariant(shape: SplitShape): Variant {
  const name = `sg-${shape.lanes}r${shape.rm}x${shape.rn}`;
  const step = (layer: 1 | 2, b: PlanBuffers): Step => ({
    pipeline: `${name}/${layer === 1 ? "gen" : "buffer"}`,
    source: () => subgroupSplitSource(shape, layer === 1 ? "gen" : "buffer"),
    entries: layer === 1 ? [buf(0, b.dims1), buf(1, b.w1), buf(2, b.y1), buf(3, b.key)] : [buf(0, b.dims2), buf(1, b.w2), buf(2, b.y2), buf(3, b.y1)],
    grid: foldGrid(ceilDiv(b.NW, shape.rn), ceilDiv(b.rows, shape.rm)),
  });
  return {
    name,
    family: "sg",
    testedOnHardware: true,
    auto: true,
    needsA: false,
    needsAcc: false,
    clearsOutputs: false,
    unsupported: (caps) => {
      if (!caps.subgroups) return "the adapter does not offer the subgroups feature";
      if (!caps.dot4) return "WGSL packed_4x8_integer_dot_product (dot4I8Packed) is missing";
      return shape.lanes > caps.maxInvocations || shape.lanes > caps.maxWorkgroupSizeX ? `needs ${shape.lanes} invocations per workgroup` : null;
    },
    unsupportedSizes: () => null,
    steps: (b) => [step(1, b), step(2, b)],
  };
}

const SPLITS: readonly SplitShape[] = [
  { lanes: 64, rm: 4, rn: 4 },
  { lanes: 32, rm: 4, rn: 2 },
];

/** Tile shapes: 8×8 suits llvmpipe's 8-wide SIMD; 16×16 (256 invocations) suits discrete GPUs. */
const TILES: readonly TileShape[] = [
  { wgX: 8, wgY: 8, rm: 4, rn: 4, bk: 4 },
  { wgX: 16, wgY: 16, rm: 4, rn: 2, bk: 4 },
  { wgX: 16, wgY: 16, rm: 4, rn: 4, bk: 4 },
];

/** Every variant this device could run, in preference order (first is the default). */
export function allVariants(caps: DeviceCaps): Variant[] {
  return [
    ...TILES.map((t) => tiledVariant("dot4", t)),
    ...SPLITS.map(subgroupSplitVariant),
    ...caps.subgroupMatrix.map((c) => subgroupMatrixVariant(c, caps.subgroupMaxSize)),
    ...TILES.slice(0, 2).map((t) => tiledVariant("f32", t)),
    naiveVariant,
  ];
}

/** Variants matching `wanted`: "auto" (all auto ones), a full name, or a family prefix ("f32"). */
export function selectVariants(caps: DeviceCaps, wanted: string | undefined): { usable: Variant[]; skipped: string[] } {
  const usable: Variant[] = [];
  const skipped: string[] = [];
  for (const v of allVariants(caps)) {
    const match = wanted === undefined || wanted === "auto" ? v.auto : v.name === wanted || v.family === wanted;
    if (!match) continue;
    const problem = v.unsupported(caps);
    if (problem) skipped.push(`${v.name}: ${problem}`);
    else usable.push(v);
  }
  return { usable, skipped };
}
