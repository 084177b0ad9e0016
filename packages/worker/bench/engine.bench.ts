/**
 * Engine benchmark: ms per attempt and GOPS for the tiled kernels, the naive WGSL kernel and
 * the TypeScript reference, per size and backend, side by side in one run.
 *
 *   pnpm --filter @tops/worker bench            # print the table
 *   pnpm --filter @tops/worker bench -- --write # also replace the table in BENCHMARKS.md
 *
 * One attempt is 2·m·n·k + 2·m·n·n operations (batch 1); times are wall times of runAttempt
 * (GEMMs, GPU hash, 32-byte read back), median of several after one untimed warm-up.
 * BENCH_BACKENDS=gpu,gl,cpu picks the backends (default: every one that starts).
 */
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { attemptOps, type Sizes } from "@tops/protocol";
import { createEngine, sizesLabel, type Engine, type EngineBackend } from "../src/engine";

interface Row {
  sizes: Sizes;
  backend: EngineBackend;
  kernel: string;
  ms: number;
  gpuMs: number | undefined;
  gops: number;
  runs: number;
}

const cube = (d: number): Sizes => ({ m: d, n: d, k: d, batch: 1 });

/** Sizes per backend: llvmpipe and the reference are slow; a real GPU gets bigger ones. */
const SIZES: Record<EngineBackend, Sizes[]> = {
  gl: [cube(256), cube(512), cube(1024), { m: 2048, n: 512, k: 1024, batch: 1 }],
  gpu: [cube(1024), cube(2048), cube(4096), cube(8192), { m: 16384, n: 4096, k: 8192, batch: 1 }],
  cpu: [cube(128), cube(256), cube(512)],
};
/** The naive kernel only where it finishes in a few seconds. */
const NAIVE_MAX_OPS: Record<EngineBackend, number> = { gl: 5e9, gpu: 1e12, cpu: 0 };
const TILED = ["dot4-8x8r4x4k4", "dot4-16x16r4x2k4", "dot4-16x16r4x4k4", "f32-8x8r4x4k4", "f32-16x16r4x2k4"];

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
  for (let i = 0; i < runs; i++) {
    const r = await engine.runAttempt({ seed: seed(), sizes });
    wall.push(r.wallMs);
    if (r.gpuMs !== undefined) gpu.push(r.gpuMs);
  }
  const ms = median(wall);
  return { sizes, ms, gpuMs: gpu.length ? median(gpu) : undefined, gops: attemptOps(sizes) / ms / 1e6, runs };
}

async function benchBackend(backend: EngineBackend, rows: Row[], notes: string[]): Promise<string | undefined> {
  const log = (l: string): void => void process.stderr.write(`  ${l}\n`);
  let description: string | undefined;
  // "sgmat" (a family: every subgroup-matrix shape the adapter offers) exists only on real GPUs.
  const kernels = backend === "cpu" ? ["ts-ref"] : backend === "gpu" ? [...TILED, "sgmat", "naive"] : [...TILED, "naive"];
  for (const kernel of kernels) {
    let engine: Engine;
    try {
      engine = await createEngine({ backend, ...(backend === "cpu" ? {} : { variant: kernel }), log: () => {} });
    } catch (e) {
      notes.push(`${backend} ${kernel}: ${(e as Error).message}`);
      if (kernel === kernels[0]) return undefined; // the backend itself is unavailable
      continue;
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
    "| size (m×n×k) | backend | kernel | ms / attempt | GPU ms | GOPS | runs |",
    "|---|---|---|---:|---:|---:|---:|",
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
        `| ${sizesLabel(r.sizes)} | ${r.backend} | ${r.kernel}${mark} | ${r.ms.toFixed(1)} | ${r.gpuMs?.toFixed(1) ?? "–"} | ${r.gops.toFixed(2)} | ${r.runs} |`,
      );
    }
  }
  return lines.join("\n");
}

/** One line per size: the best tiled kernel, the naive kernel and the reference side by side. */
function sideBySide(rows: Row[]): string {
  const lines = [
    "| size (m×n×k) | backend | best tiled | naive WGSL | TS reference (cpu) | tiled / naive |",
    "|---|---|---:|---:|---:|---:|",
  ];
  const cell = (r: Row | undefined): string => (r ? `${r.ms.toFixed(1)} ms · ${r.gops.toFixed(2)} GOPS` : "–");
  const sizes = [...new Map(rows.map((r) => [sizesLabel(r.sizes), r.sizes])).values()].sort((a, b) => attemptOps(a) - attemptOps(b));
  for (const s of sizes) {
    const at = rows.filter((r) => sizesLabel(r.sizes) === sizesLabel(s));
    const ref = at.find((r) => r.kernel === "ts-ref");
    for (const backend of ["gpu", "gl"] as const) {
      const here = at.filter((r) => r.backend === backend);
      const tiled = here.filter((r) => r.kernel !== "naive");
      const best = tiled.length ? tiled.reduce((a, b) => (a.ms <= b.ms ? a : b)) : undefined;
      const naive = here.find((r) => r.kernel === "naive");
      if (!best && !naive) continue;
      const ratio = best && naive ? `${(naive.ms / best.ms).toFixed(1)}×` : "–";
      lines.push(`| ${sizesLabel(s)} | ${backend} | ${best ? `${cell(best)} (${best.kernel})` : "–"} | ${cell(naive)} | ${cell(ref)} | ${ratio} |`);
    }
    if (!at.some((r) => r.backend !== "cpu") && ref) lines.push(`| ${sizesLabel(s)} | cpu | – | – | ${cell(ref)} | – |`);
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
