/**
 * Engine benchmark: ms per attempt and GOPS for the tiled kernels, the naive WGSL kernel and
 * the TypeScript reference, per size and backend, side by side in one run.
 *
 *   pnpm --filter @tops/worker bench            # print the table
 *   pnpm --filter @tops/worker bench -- --write # also replace the table in BENCHMARKS.md
 *
 * One attempt is 2·m·n·k + 2·m·n·n operations (batch 1); times are wall times of runAttempt
 * (GEMMs, GPU hash, 32-byte read back), median of several after one untimed warm-up. CPU time
 * per attempt is measured over the timed attempts: the whole process, and the thread that
 * waits for the GPU (on llvmpipe/lavapipe the process figure includes the rasterizer threads
 * doing the work itself).
 * BENCH_BACKENDS=gpu,gl,cpu picks the backends (default: every one that starts). The gpu
 * backend runs on lavapipe (software Vulkan) here: the bench opts in with
 * TOPS_ALLOW_SOFTWARE_GPU=1 unless BENCH_SOFTWARE_GPU=0.
 */
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { attemptOps, type Sizes } from "@tops/protocol";
import { createEngine, sizesLabel, type Engine, type EngineBackend } from "../src/engine";
import { inspectBackend } from "../src/engine/gpu/inspect";
import { setTickMode, type TickMode } from "../src/engine/gpu/ticks";
import { cpuSampler } from "./cpu-time";

if (process.env.BENCH_SOFTWARE_GPU !== "0") process.env.TOPS_ALLOW_SOFTWARE_GPU ??= "1";

interface Row {
  sizes: Sizes;
  backend: EngineBackend;
  kernel: string;
  ms: number;
  gpuMs: number | undefined;
  gops: number;
  runs: number;
  /** CPU ms per timed attempt: whole process, and the waiting thread (null off Linux). */
  cpuMs: number;
  threadCpuMs: number | null;
}

const cube = (d: number): Sizes => ({ m: d, n: d, k: d, batch: 1 });

const SOFTWARE_SIZES = [cube(256), cube(512), cube(1024), { m: 2048, n: 512, k: 1024, batch: 1 }];
/** Whether the gpu backend's adapter is a CPU (lavapipe): then it gets llvmpipe's sizes. */
const gpuInfo = await inspectBackend("gpu");
const softwareGpu = gpuInfo.ok && gpuInfo.adapter.isFallbackAdapter;

/** Sizes per backend: llvmpipe, lavapipe and the reference are slow; a real GPU gets bigger ones. */
const SIZES: Record<EngineBackend, Sizes[]> = {
  gl: SOFTWARE_SIZES,
  gpu: softwareGpu ? SOFTWARE_SIZES : [cube(1024), cube(2048), cube(4096), cube(8192), { m: 16384, n: 4096, k: 8192, batch: 1 }],
  cpu: [cube(128), cube(256), cube(512)],
};
/** The naive kernel only where it finishes in a few seconds. */
const NAIVE_MAX_OPS: Record<EngineBackend, number> = { gl: 5e9, gpu: softwareGpu ? 5e9 : 1e12, cpu: 0 };
const TILED = ["dot4-8x8r4x4k4", "dot4-16x16r4x2k4", "dot4-16x16r4x4k4", "sg-64r4x4", "sg-32r4x2", "f32-8x8r4x4k4", "f32-16x16r4x2k4"];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const seed = (): Uint8Array => crypto.getRandomValues(new Uint8Array(32));

async function measure(engine: Engine, sizes: Sizes, budgetMs: number): Promise<Omit<Row, "backend" | "kernel">> {
  const warm = await engine.runAttempt({ seed: seed(), sizes }); // compiles, allocates, uploads weights
  const runs = Math.max(3, Math.min(9, Math.floor(budgetMs / Math.max(warm.wallMs, 1))));
  const wall: number[] = [];
  const gpu: number[] = [];
  const cpu = cpuSampler();
  for (let i = 0; i < runs; i++) {
    const r = await engine.runAttempt({ seed: seed(), sizes });
    wall.push(r.wallMs);
    if (r.gpuMs !== undefined) gpu.push(r.gpuMs);
  }
  const c = cpu.stop();
  const ms = median(wall);
  return {
    sizes, ms, gpuMs: gpu.length ? median(gpu) : undefined, gops: attemptOps(sizes) / ms / 1e6, runs,
    cpuMs: c.processMs / runs, threadCpuMs: c.threadMs === null ? null : c.threadMs / runs,
  };
}

async function benchBackend(backend: EngineBackend, rows: Row[], notes: string[]): Promise<string | undefined> {
  const log = (l: string): void => void process.stderr.write(`  ${l}\n`);
  let description: string | undefined;
  // "sgmat" (a family: every subgroup-matrix shape the adapter offers) exists only on real GPUs.
  const kernels = backend === "cpu" ? ["ts-ref"] : backend === "gpu" ? [...TILED, "sgmat", "naive"] : [...TILED, "naive"];
  if (backend === "gpu" && !gpuInfo.ok) {
    notes.push(`gpu: ${gpuInfo.reason}`);
    return undefined;
  }
  for (const kernel of kernels) {
    let engine: Engine;
    try {
      engine = await createEngine({ backend, ...(backend === "cpu" ? {} : { variant: kernel }), log: () => {} });
    } catch (e) {
      notes.push(`${backend} ${kernel}: ${(e as Error).message}`);
      if (kernel === kernels[0]) return undefined; // the backend itself is unavailable
      continue; // e.g. sg-* on gl (no subgroups), sgmat without subgroup matrices
    }
    description ??= `${engine.driverHint}`;
    try {
      for (const sizes of SIZES[backend]) {
        if (kernel === "naive" && attemptOps(sizes) > NAIVE_MAX_OPS[backend]) continue;
        const r = await measure(engine, sizes, backend === "gpu" ? 2000 : 3000);
        rows.push({ ...r, backend, kernel });
        log(`${backend} ${kernel.padEnd(18)} ${sizesLabel(sizes).padEnd(16)} ${r.ms.toFixed(1).padStart(8)} ms ${r.gops.toFixed(2).padStart(8)} GOPS`);
      }
    } finally {
      await engine.destroy();
    }
  }
  return description;
}

function table(rows: Row[]): string {
  const lines = [
    "| size (m×n×k) | backend | kernel | ms / attempt | GPU ms | GOPS | runs | CPU ms / attempt (process · waiting thread) |",
    "|---|---|---|---:|---:|---:|---:|---:|",
  ];
  const bySize = new Map<string, Row[]>();
  for (const r of rows) {
    const id = `${r.backend} ${sizesLabel(r.sizes)}`;
    bySize.set(id, [...(bySize.get(id) ?? []), r]);
  }
  for (const group of bySize.values()) {
    const tiled = group.filter((r) => r.kernel !== "naive" && r.kernel !== "ts-ref");
    const best = tiled.length ? tiled.reduce((a, b) => (a.ms <= b.ms ? a : b)) : undefined;
    for (const r of group) {
      const mark = r === best ? " **(best)**" : "";
      lines.push(
        `| ${sizesLabel(r.sizes)} | ${r.backend} | ${r.kernel}${mark} | ${r.ms.toFixed(1)} | ${r.gpuMs?.toFixed(1) ?? "–"} | ${r.gops.toFixed(2)} | ${r.runs} | ${cpuCell(r)} |`,
      );
    }
  }
  return lines.join("\n");
}

const cpuCell = (r: Row): string => `${r.cpuMs.toFixed(1)} · ${r.threadCpuMs?.toFixed(1) ?? "–"}`;

/**
 * One line per size: the best tiled kernel on Vulkan (gpu) and on GL, the naive kernel, the
 * TypeScript reference, and each backend's CPU time per attempt, side by side.
 */
function sideBySide(rows: Row[]): string {
  const lines = [
    "| size (m×n×k) | gpu (Vulkan) best | gl best | naive WGSL (gl) | TS reference (cpu) | CPU ms / attempt gpu (process · waiting thread) | gl | cpu |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const cell = (r: Row | undefined, name = false): string => (r ? `${r.ms.toFixed(1)} ms · ${r.gops.toFixed(2)} GOPS${name ? ` (${r.kernel})` : ""}` : "–");
  const sizes = [...new Map(rows.map((r) => [sizesLabel(r.sizes), r.sizes])).values()].sort((a, b) => attemptOps(a) - attemptOps(b));
  for (const s of sizes) {
    const at = rows.filter((r) => sizesLabel(r.sizes) === sizesLabel(s));
    const best = (backend: EngineBackend): Row | undefined => {
      const tiled = at.filter((r) => r.backend === backend && r.kernel !== "naive");
      return tiled.length ? tiled.reduce((a, b) => (a.ms <= b.ms ? a : b)) : undefined;
    };
    const [gpu, gl, ref] = [best("gpu"), best("gl"), at.find((r) => r.kernel === "ts-ref")];
    const naive = at.find((r) => r.backend === "gl" && r.kernel === "naive");
    const cpu = (r: Row | undefined): string => (r ? cpuCell(r) : "–");
    lines.push(`| ${sizesLabel(s)} | ${cell(gpu, true)} | ${cell(gl, true)} | ${cell(naive)} | ${cell(ref)} | ${cpu(gpu)} | ${cpu(gl)} | ${cpu(ref)} |`);
  }
  return lines.join("\n");
}

function ratios(rows: Row[]): string {
  const out: string[] = [];
  const keys = new Set(rows.map((r) => `${r.backend}|${sizesLabel(r.sizes)}`));
  for (const key of keys) {
    const group = rows.filter((r) => `${r.backend}|${sizesLabel(r.sizes)}` === key);
    const naive = group.find((r) => r.kernel === "naive");
    const tiled = group.filter((r) => r.kernel !== "naive" && r.kernel !== "ts-ref");
    if (!naive || !tiled.length) continue;
    const best = tiled.reduce((a, b) => (a.ms <= b.ms ? a : b));
    out.push(`- ${key.replace("|", " ")}: best tiled (${best.kernel}) / naive = **${(naive.ms / best.ms).toFixed(1)}×** faster (${best.gops.toFixed(2)} vs ${naive.gops.toFixed(2)} GOPS)`);
  }
  return out.join("\n");
}

function machine(descriptions: Map<EngineBackend, string>): string {
  const cpus = os.cpus();
  const webgpuVersion = (JSON.parse(readFileSync(new URL("../node_modules/webgpu/package.json", import.meta.url), "utf8")) as { version: string }).version;
  return [
    `- CPU: ${cpus[0]?.model ?? "?"} × ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.platform()} ${os.release()}`,
    `- Node ${process.version}, npm webgpu ${webgpuVersion} (Dawn)`,
    ...[...descriptions].map(([b, d]) => `- ${b}: ${d}`),
    `- Date: ${new Date().toISOString().slice(0, 10)}`,
  ].join("\n");
}

interface BusyRow {
  backend: EngineBackend;
  mode: TickMode;
  kernel: string;
  sizes: Sizes;
  wallMs: number;
  cpuMs: number;
  threadCpuMs: number | null;
}

/** The same attempts with dawn.node's spinning tick and with the engine's sleeping one. */
async function busyWait(backend: "gpu" | "gl", out: BusyRow[]): Promise<void> {
  const sizes = backend === "gpu" && !softwareGpu ? cube(8192) : cube(1024);
  const kernel = "dot4-16x16r4x4k4";
  const engine = await createEngine({ backend, variant: kernel });
  try {
    await engine.runAttempt({ seed: seed(), sizes });
    for (const mode of ["spin", "sleep"] as const) {
      setTickMode(mode);
      const runs = 5;
      const cpu = cpuSampler();
      const t0 = performance.now();
      for (let i = 0; i < runs; i++) await engine.runAttempt({ seed: seed(), sizes });
      const wallMs = (performance.now() - t0) / runs;
      const c = cpu.stop();
      out.push({ backend, mode, kernel, sizes, wallMs, cpuMs: c.processMs / runs, threadCpuMs: c.threadMs === null ? null : c.threadMs / runs });
      process.stderr.write(`  ${backend} ${mode}: ${wallMs.toFixed(1)} ms/attempt, thread CPU ${(c.threadMs ?? NaN) / runs} ms\n`);
    }
  } finally {
    setTickMode("sleep");
    await engine.destroy();
  }
}

function busyTable(rows: BusyRow[]): string {
  return [
    "| backend | tick | kernel | size | wall ms / attempt | CPU ms / attempt (process) | CPU ms / attempt (waiting thread) | waiting thread, share of one core |",
    "|---|---|---|---|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.backend} | ${r.mode === "spin" ? "spin (dawn.node, before)" : "sleep (engine, after)"} | ${r.kernel} | ${sizesLabel(r.sizes)} | ${r.wallMs.toFixed(1)} | ${r.cpuMs.toFixed(1)} | ${r.threadCpuMs?.toFixed(1) ?? "–"} | ${r.threadCpuMs === null ? "–" : `${((100 * r.threadCpuMs) / r.wallMs).toFixed(1)} %`} |`,
    ),
  ].join("\n");
}

interface FirstUseRow {
  backend: EngineBackend;
  kernel: string;
  sizes: Sizes;
  /** What the caller waited for the first attempt: self-check, compiles, buffers, weights and the work (what time_ms said before). */
  observedMs: number;
  /** What the first attempt reports now: the work alone. */
  reportedMs: number;
  steadyMs: number;
}

/** First attempt of each fresh dot4 variant (the engine explores them in turn) vs its steady state. */
async function firstUse(backend: "gpu" | "gl", out: FirstUseRow[]): Promise<void> {
  const sizes = cube(512);
  const engine = await createEngine({ backend, variant: "dot4" });
  try {
    const seen = new Map<string, { observed: number; reported: number[] }>();
    for (let i = 0; i < 12; i++) {
      const t0 = performance.now();
      const r = await engine.runAttempt({ seed: seed(), sizes });
      const observed = performance.now() - t0;
      const v = seen.get(r.variant);
      if (v) v.reported.push(r.wallMs);
      else seen.set(r.variant, { observed, reported: [r.wallMs] });
    }
    for (const [kernel, v] of seen) {
      const [first, ...rest] = v.reported;
      if (rest.length) out.push({ backend, kernel, sizes, observedMs: v.observed, reportedMs: first!, steadyMs: median(rest) });
    }
  } finally {
    await engine.destroy();
  }
}

function firstUseTable(rows: FirstUseRow[]): string {
  return [
    "| backend | kernel | size | first attempt, caller's wait (= time_ms before) | first attempt, time_ms now | steady time_ms (median) | before / steady | now / steady |",
    "|---|---|---|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.backend} | ${r.kernel} | ${sizesLabel(r.sizes)} | ${r.observedMs.toFixed(1)} | ${r.reportedMs.toFixed(1)} | ${r.steadyMs.toFixed(1)} | ${(r.observedMs / r.steadyMs).toFixed(1)}× | ${(r.reportedMs / r.steadyMs).toFixed(1)}× |`,
    ),
  ].join("\n");
}

const wanted = (process.env.BENCH_BACKENDS ?? "gpu,gl,cpu").split(",").map((s) => s.trim()) as EngineBackend[];
const rows: Row[] = [];
const notes: string[] = [];
const descriptions = new Map<EngineBackend, string>();
const t0 = performance.now();
for (const backend of wanted) {
  process.stderr.write(`${backend}:\n`);
  const d = await benchBackend(backend, rows, notes);
  if (d) descriptions.set(backend, d);
}
const busyRows: BusyRow[] = [];
const firstUseRows: FirstUseRow[] = [];
for (const backend of ["gpu", "gl"] as const) {
  if (!descriptions.has(backend)) continue;
  process.stderr.write(`${backend}: busy-wait and first use\n`);
  await busyWait(backend, busyRows);
  await firstUse(backend, firstUseRows);
}
const totalS = (performance.now() - t0) / 1000;

const report = [
  "### Machine",
  "",
  machine(descriptions),
  "",
  "### Side by side",
  "",
  sideBySide(rows),
  "",
  "### Every kernel",
  "",
  table(rows),
  "",
  "### Busy-waiting: CPU time per attempt, dawn.node's spinning tick vs the engine's sleeping tick",
  "",
  busyTable(busyRows),
  "",
  "### First use: the first attempt of a fresh variant vs its steady state",
  "",
  firstUseTable(firstUseRows),
  "",
  "Tiled vs naive:",
  "",
  ratios(rows),
  "",
  ...(notes.length ? ["Not measured:", "", ...notes.map((n) => `- ${n}`), ""] : []),
  `Whole run: ${totalS.toFixed(0)} s.`,
].join("\n");

process.stdout.write(`${report}\n`);

if (process.argv.includes("--write")) {
  const file = new URL("../BENCHMARKS.md", import.meta.url);
  const doc = readFileSync(file, "utf8");
  const begin = "<!-- bench:begin -->";
  const end = "<!-- bench:end -->";
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error("BENCHMARKS.md lacks the bench:begin / bench:end markers");
  writeFileSync(file, `${doc.slice(0, a + begin.length)}\n${report}\n${doc.slice(b)}`);
  process.stderr.write("BENCHMARKS.md updated\n");
}
