/**
 * Benchmark: audit rows with the row kernel (onnxruntime) next to the TypeScript reference, in
 * one run. Prints markdown tables (min / median over repeats, ratios of medians).
 *
 *   pnpm --filter @tops/rowkernel bench
 *   BENCH_SIZES=256,1024 BENCH_ROWS=16 BENCH_REPEATS=5 pnpm --filter @tops/rowkernel bench
 *
 * "warm": weights already generated and packed (the cache hit of every audit after the first
 * at a size); "cold": nothing cached, so weight generation and packing are in the time.
 */
import { availableParallelism, cpus, loadavg } from "node:os";
import {
  W1_KEY,
  W2_KEY,
  activationKey,
  attemptContext,
  computeRow,
  generateTransposed,
  type AttemptContext,
  type RowScratch,
  type Sizes,
} from "@tops/protocol";
import * as ort from "onnxruntime-node";
import { createRowKernel, generateWeights, type RowKernel } from "../src/index";
import { OnnxType, rawBytes, serializeModel } from "../src/onnx-model";

const list = (v: string | undefined, fallback: number[]): number[] => (v ? v.split(",").map(Number) : fallback);
const SIZES = list(process.env.BENCH_SIZES, [256, 1024, 2048, 4096]);
const ROW_COUNTS = list(process.env.BENCH_ROWS, [16, 64]);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 7);
const COLD_REPEATS = Number(process.env.BENCH_COLD_REPEATS ?? 3);
/** The reference runs only where it fits in this many seconds per table cell. */
const REFERENCE_BUDGET_S = Number(process.env.BENCH_REFERENCE_BUDGET_S ?? 20);

interface Stats {
  readonly min: number;
  readonly median: number;
  readonly runs: number;
}

function stats(ms: number[]): Stats {
  const s = [...ms].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor((s.length - 1) / 2)]!, runs: s.length };
}

async function timeRuns(repeats: number, run: (i: number) => Promise<unknown> | unknown): Promise<Stats> {
  const ms: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    await run(i);
    ms.push(performance.now() - t);
  }
  return stats(ms);
}

/** Repeats of a run costing about `estimateMs` that fit the reference budget (0: skip). */
const fitting = (estimateMs: number, wanted: number): number => Math.min(wanted, Math.floor((REFERENCE_BUDGET_S * 1000) / Math.max(estimateMs, 1e-3)));

const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3));
const cell = (s: Stats | null): string => (s ? `${fmt(s.min)} / ${fmt(s.median)}` : "—");
const ratio = (ref: Stats | null, fast: Stats): string => (ref ? `${fmt(ref.median / fast.median)}×` : "—");
const seedFor = (i: number): Uint8Array => Uint8Array.from({ length: 32 }, (_, j) => (i * 131 + j * 7) & 0xff);
const rowsFor = (count: number, m: number, i: number): number[] => Array.from({ length: count }, (_, j) => (j * 2654435761 + i * 97) % m);

/** The protocol's reference, with weights made here so "cold" really generates them. */
function referenceContext(seed: Uint8Array, sizes: Sizes, weights?: AttemptContext["weights"]): AttemptContext {
  const w = weights ?? { k: sizes.k, n: sizes.n, w1t: generateTransposed(W1_KEY, sizes.n, sizes.k), w2t: generateTransposed(W2_KEY, sizes.n, sizes.n) };
  return { sizes, key: activationKey(seed), weights: w };
}

function referenceRows(ctx: AttemptContext, rows: readonly number[]): Uint8Array[] {
  const scratch: RowScratch = { a: new Int8Array(ctx.sizes.k), y1: new Int32Array(ctx.sizes.n) };
  return rows.map((r) => computeRow(ctx, r, new Uint8Array(ctx.sizes.n), scratch));
}

const auditOps = (d: number, rows: number): number => rows * 2 * (d * d + d * d);

async function gemmTable(): Promise<string[]> {
  const d = 1024;
  const ops = 2 * d * d * d;
  const w = generateWeights(W1_KEY, d, d);
  const model = serializeModel({
    inputs: [{ name: "a", type: OnnxType.UINT8, dims: [d, d] }],
    outputs: [{ name: "c", type: OnnxType.INT32, dims: [d, d] }],
    initializers: [
      { name: "w", type: OnnxType.INT8, dims: [d, d], raw: rawBytes(new Uint8Array(w.buffer)) },
      { name: "zp", type: OnnxType.UINT8, dims: [], raw: rawBytes(Uint8Array.of(128)) },
    ],
    nodes: [{ op: "MatMulInteger", inputs: ["a", "w", "zp"], output: "c" }],
  });
  const a = new ort.Tensor("uint8", Uint8Array.from({ length: d * d }, (_, i) => (i * 2654435761) >>> 24), [d, d]);
  const lines: string[] = [];
  const rowsOf = (label: string, s: Stats, gemmOps: number): string => `| ${label} | ${s.runs} | ${cell(s)} | ${fmt(gemmOps / s.min / 1e6)} | ${fmt(gemmOps / s.median / 1e6)} |`;
  const results: { label: string; s: Stats; ops: number }[] = [];
  for (const threads of [1, availableParallelism()].filter((t, i, all) => all.indexOf(t) === i)) {
    const session = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: "all" });
    await session.run({ a });
    const s = await timeRuns(REPEATS, () => session.run({ a }));
    results.push({ label: `onnxruntime MatMulInteger u8×s8→i32, full 1024³ GEMM, ${threads} thread${threads === 1 ? "" : "s"}`, s, ops });
    await session.release();
  }
  // The reference computes rows; 16 of them at 1024³ are 16/1024 of the GEMM (both layers).
  const sizes: Sizes = { m: d, n: d, k: d, batch: 1 };
  const ctx = attemptContext(seedFor(0), sizes);
  const refOps = auditOps(d, 16);
  const s = await timeRuns(Math.max(3, Math.min(REPEATS, 5)), (i) => referenceRows(ctx, rowsFor(16, d, i)));
  results.push({ label: "TS reference computeRow at 1024³ (16 rows, both layers)", s, ops: refOps });
  lines.push("| kernel | runs | ms min / median | GOPS (at min) | GOPS (at median) |", "| --- | --- | --- | --- | --- |");
  for (const r of results) lines.push(rowsOf(r.label, r.s, r.ops));
  const fast = results[0]!;
  lines.push("", `onnxruntime (1 thread) / TS reference, GOPS at median: ${fmt(fast.ops / fast.s.median / (refOps / s.median))}×`);
  return lines;
}

/** Median ms of the protocol's weight generation per size, filled by weightsTable. */
const referenceGenerationMs = new Map<number, number>();

async function weightsTable(): Promise<string[]> {
  const lines = [
    "| k = n | rowkernel, WebAssembly SIMD | rowkernel, plain JS | protocol generateTransposed | protocol / SIMD |",
    "| --- | --- | --- | --- | --- |",
  ];
  const pair = (d: number, simd: boolean): Int8Array[] => [generateWeights(W1_KEY, d, d, { simd }), generateWeights(W2_KEY, d, d, { simd })];
  for (const d of SIZES) {
    pair(d, true); // warm up both paths at this size
    pair(d, false);
    const simd = await timeRuns(REPEATS, () => pair(d, true));
    const js = await timeRuns(REPEATS, () => pair(d, false));
    const ref = await timeRuns(COLD_REPEATS, () => [generateTransposed(W1_KEY, d, d), generateTransposed(W2_KEY, d, d)]);
    referenceGenerationMs.set(d, ref.median);
    lines.push(`| ${d} | ${cell(simd)} | ${cell(js)} | ${cell(ref)} | ${ratio(ref, simd)} |`);
  }
  return lines;
}

async function auditTable(): Promise<string[]> {
  const threads = availableParallelism();
  const warm1 = await createRowKernel({ backend: "onnxruntime", threads: 1 });
  const warmN = await createRowKernel({ backend: "onnxruntime", threads });
  const cold: RowKernel = await createRowKernel({ backend: "onnxruntime", threads: 1, cacheBytes: 0 });
  const lines = [
    `| k = n (m = k) | rows | rowkernel warm, 1 thread | rowkernel warm, ${threads} threads | rowkernel cold, 1 thread | TS reference warm | TS reference cold | ref / rowkernel warm | ref / rowkernel cold | rowkernel GOPS (warm, 1 thread, median) |`,
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  let refGops = 0; // measured as we go: predicts whether the next reference cell fits its budget
  for (const d of SIZES) {
    const sizes: Sizes = { m: d, n: d, k: d, batch: 1 };
    for (const count of ROW_COUNTS) {
      const args = (i: number): [Uint8Array, Sizes, number[]] => [seedFor(i), sizes, rowsFor(count, d, i)];
      await warm1.rows(...args(0)); // makes and caches this size's weights
      await warmN.rows(...args(0));
      const fast1 = await timeRuns(REPEATS, (i) => warm1.rows(...args(i + 1)));
      const fastN = await timeRuns(REPEATS, (i) => warmN.rows(...args(i + 1)));
      const fastCold = await timeRuns(COLD_REPEATS, (i) => cold.rows(...args(i + 1)));

      const ops = auditOps(d, count);
      const estimateWarm = refGops > 0 ? ops / refGops / 1e6 : 0;
      let refWarm: Stats | null = null;
      let refCold: Stats | null = null;
      const warmRepeats = fitting(estimateWarm, REPEATS);
      if (warmRepeats > 0) {
        const weights = referenceContext(seedFor(0), sizes).weights;
        // Let V8 optimize computeRow first where that is cheap (it is at the small sizes).
        if (estimateWarm < 1000) referenceRows(referenceContext(seedFor(0), sizes, weights), args(0)[2]);
        refWarm = await timeRuns(warmRepeats, (i) => referenceRows(referenceContext(seedFor(i + 1), sizes, weights), args(i + 1)[2]));
        refGops = ops / refWarm.median / 1e6;
        // The same rows from both kernels: a benchmark of a wrong kernel is worthless.
        const got = await warm1.rows(...args(1));
        const want = referenceRows(referenceContext(seedFor(1), sizes, weights), args(1)[2]);
        if (!got.every((row, i) => row.every((v, j) => v === want[i]![j]))) throw new Error(`rowkernel differs from computeRow at ${d}³`);
      }
      const coldRepeats = fitting(refWarm ? refWarm.median + (referenceGenerationMs.get(d) ?? 0) : Infinity, COLD_REPEATS);
      if (coldRepeats > 0) refCold = await timeRuns(coldRepeats, (i) => referenceRows(referenceContext(seedFor(i + 1), sizes), args(i + 1)[2]));
      lines.push(
        `| ${d} | ${count} | ${cell(fast1)} | ${cell(fastN)} | ${cell(fastCold)} | ${cell(refWarm)} | ${cell(refCold)} | ${ratio(refWarm, fast1)} | ${ratio(refCold, fastCold)} | ${fmt(ops / fast1.median / 1e6)} |`,
      );
      console.error(`  done ${d}³ × ${count} rows`);
    }
  }
  await Promise.all([warm1.close(), warmN.close(), cold.close()]);
  return lines;
}

const kernel = await createRowKernel({ backend: "onnxruntime" });
console.log(`# @tops/rowkernel benchmark\n`);
console.log(`${cpus()[0]?.model ?? "unknown CPU"}, ${availableParallelism()} cores, Node ${process.version}, ${kernel.name}`);
const load = (): string => loadavg().map((l) => l.toFixed(1)).join(" ");
console.log(`Load average at start: ${load()} (other processes share these cores: compare within a run, not across runs).`);
await kernel.close();
console.log(`Times in ms, min / median of ${REPEATS} warm and ${COLD_REPEATS} cold repeats (fewer for the reference where it would pass ${REFERENCE_BUDGET_S} s a cell); ratios are of medians.\n`);
console.log("## Int8 GEMM throughput at 1024³\n");
console.log((await gemmTable()).join("\n"));
const weights = await weightsTable(); // first: its reference timings size the audit table's reference cells
console.log("\n## One audit: y2 rows for a receipt (both layers, requantized), ms min / median\n");
console.log((await auditTable()).join("\n"));
console.log("\n## Weight generation for a size pair (W1 k×n and W2 n×n), ms\n");
console.log(weights.join("\n"));
console.log(`\nLoad average at the end: ${load()}.`);
