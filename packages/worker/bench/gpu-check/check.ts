/**
 * GPU check: what the `gpu` backend does on this machine, in one run. Bundled by
 * `pnpm gpu:bundle` (with Node, dawn.node and the Vulkan loader) and started by its run.sh on a
 * machine with a GPU and no Node; CI runs the same bundle on lavapipe with --quick.
 *
 * It prints and writes (gpu-check.json, gpu-check.md):
 *  - the adapter, its features and subgroupMatrixConfigs, and every kernel variant with why it
 *    cannot run here;
 *  - exactness of every variant at several sizes: y2 rows sampled against the protocol's
 *    row-at-a-time reference (`computeRow`: fast even at 8192³), every row at small sizes, and
 *    the GPU's row leaves and work_root against the protocol's rowLeaves/merkleRoot of the
 *    GPU's own y2;
 *  - throughput per variant and size from GPU timestamps and from wall time, with CPU time per
 *    attempt (process, and the thread that waits for the GPU);
 *  - busy-waiting: CPU per attempt with dawn.node's spinning tick and with the engine's sleeping one;
 *  - the variant the engine picks by itself;
 *  - torch._int_mm (int8 → int32) at the same sizes, measured by torch_int_mm.py in the same
 *    run, and the ratio.
 *
 *   node check.mjs [--quick] [--out DIR] [--torch FILE] [--budget-s N] [--backend gpu|gl]
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { attemptContext, attemptOps, computeRow, computeY2, merkleRoot, rowLeaves, type AttemptContext, type Sizes } from "@tops/protocol";
import { createEngine, sizesLabel, type Engine } from "../../src/engine";
import { inspectBackend, type BackendReport } from "../../src/engine/gpu/inspect";
import { setTickMode, type TickMode } from "../../src/engine/gpu/ticks";
import { cpuSampler, type CpuSample } from "../cpu-time";

interface Options {
  readonly quick: boolean;
  readonly out: string;
  readonly torch: string | undefined;
  readonly budgetS: number;
  readonly backend: "gpu" | "gl";
}

function parseArgs(argv: readonly string[]): Options {
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const backend = value("--backend") ?? "gpu";
  if (backend !== "gpu" && backend !== "gl") throw new Error(`--backend must be gpu or gl, got ${backend}`);
  const quick = argv.includes("--quick");
  return {
    quick,
    out: value("--out") ?? "gpu-check-results",
    torch: value("--torch"),
    budgetS: Number(value("--budget-s") ?? (quick ? 240 : 400)),
    backend,
  };
}

const cube = (d: number, batch = 1): Sizes => ({ m: d, n: d, k: d, batch });

interface ExactSize {
  readonly sizes: Sizes;
  /** Every row checked (small sizes) or this many sampled rows. */
  readonly rows: "all" | number;
}

const PLAN = {
  full: {
    exact: [
      { sizes: { m: 97, n: 131, k: 258, batch: 1 }, rows: "all" },
      { sizes: { m: 256, n: 320, k: 200, batch: 3 }, rows: "all" },
      { sizes: cube(1024), rows: 12 },
      { sizes: cube(4096), rows: 4 },
      { sizes: cube(8192), rows: 3 },
    ] as ExactSize[],
    perf: [cube(1024), cube(2048), cube(4096), cube(8192)],
    busy: cube(4096),
    busyAttempts: 20,
    perfMinMs: 1200,
  },
  quick: {
    exact: [
      { sizes: { m: 97, n: 131, k: 258, batch: 1 }, rows: "all" },
      { sizes: { m: 64, n: 96, k: 80, batch: 2 }, rows: "all" },
      { sizes: { m: 9, n: 1100, k: 64, batch: 2 }, rows: "all" }, // leaves of 2 chunks, odd row count
      { sizes: cube(256), rows: 4 },
    ] as ExactSize[],
    perf: [cube(128), cube(256)],
    busy: cube(256),
    busyAttempts: 6,
    perfMinMs: 300,
  },
} as const;

interface ExactResult {
  variant: string;
  sizes: string;
  ok: boolean | null;
  rowsChecked: number;
  workRootOk: boolean | null;
  note: string;
}

interface PerfResult {
  variant: string;
  sizes: string;
  attempts: number;
  gpuMs: number | null;
  wallMs: number;
  topsGpu: number | null;
  topsWall: number;
  processCpuMs: number;
  threadCpuMs: number | null;
  note: string;
}

interface BusyResult {
  mode: TickMode;
  variant: string;
  sizes: string;
  attempts: number;
  wallMs: number;
  processCpuMs: number;
  threadCpuMs: number | null;
  /** Thread CPU per attempt / wall per attempt: the share of one core spent by the waiting thread. */
  threadCoreShare: number | null;
}

interface TorchReport {
  ok: boolean;
  reason?: string;
  device?: string;
  torch?: string;
  results?: { size: number; ms: number; tops: number }[];
}

interface Report {
  startedAt: string;
  mode: "full" | "quick";
  backend: "gpu" | "gl";
  node: string;
  inspect: BackendReport;
  exactness: ExactResult[];
  perf: PerfResult[];
  busyWait: BusyResult[];
  auto: { sizes: string; chosen: string; tops: number | null; note: string } | null;
  torch: TorchReport | null;
  comparison: { size: number; bestVariant: string; tops: number; torchTops: number; ratio: number }[];
  skipped: string[];
  elapsedS: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const tops = (sizes: Sizes, ms: number): number => attemptOps(sizes) / ms / 1e9;
const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split("\n")[0]!;

/** Seeded row choice: first, second, last, and evenly spread ones in between. */
function sampleRows(rows: number, count: number): number[] {
  const picks = new Set<number>([0, Math.min(1, rows - 1), rows - 1]);
  for (let i = 1; picks.size < Math.min(count, rows); i++) picks.add(Math.floor((i * rows * 0.618034) % rows));
  return [...picks].sort((a, b) => a - b);
}

class Reference {
  private readonly ctx: AttemptContext;
  private readonly rows = new Map<number, Uint8Array>();
  private full: Uint8Array | undefined;
  constructor(
    readonly seed: Uint8Array,
    readonly sizes: Sizes,
  ) {
    this.ctx = attemptContext(seed, sizes);
  }
  row(r: number): Uint8Array {
    let v = this.rows.get(r);
    if (!v) this.rows.set(r, (v = computeRow(this.ctx, r)));
    return v;
  }
  all(): Uint8Array {
    return (this.full ??= computeY2(this.seed, this.sizes));
  }
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const plan = opts.quick ? PLAN.quick : PLAN.full;
  const t0 = performance.now();
  const deadline = t0 + opts.budgetS * 1000;
  const left = (): number => deadline - performance.now();
  mkdirSync(opts.out, { recursive: true });
  const say = (line: string): void => void process.stdout.write(`${line}\n`);

  const inspect = await inspectBackend(opts.backend);
  const report: Report = {
    startedAt: new Date().toISOString(),
    mode: opts.quick ? "quick" : "full",
    backend: opts.backend,
    node: process.version,
    inspect,
    exactness: [],
    perf: [],
    busyWait: [],
    auto: null,
    torch: readTorch(opts.torch),
    comparison: [],
    skipped: [],
    elapsedS: 0,
  };
  const save = (): void => {
    report.elapsedS = (performance.now() - t0) / 1000;
    writeFileSync(path.join(opts.out, "gpu-check.json"), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(path.join(opts.out, "gpu-check.md"), markdown(report));
  };
  if (!inspect.ok) {
    say(`${opts.backend}: cannot start: ${inspect.reason}`);
    save();
    process.exitCode = 2;
    return;
  }
  say(`adapter: ${inspect.adapter.vendor} / ${inspect.adapter.architecture} / ${inspect.adapter.description} (fallback: ${inspect.adapter.isFallbackAdapter})`);
  say(`features: ${inspect.features.join(", ")}`);
  say(`subgroupMatrixConfigs: ${JSON.stringify(inspect.subgroupMatrixConfigs)}`);
  for (const v of inspect.variants) say(`variant ${v.name}: ${v.problem ?? "available"}`);
  save();

  const refs = plan.exact.map((e) => new Reference(crypto.getRandomValues(new Uint8Array(32)), e.sizes));
  const variants = inspect.variants.filter((v) => v.problem === null).map((v) => v.name);
  for (const name of variants) {
    let engine: Engine;
    try {
      engine = await createEngine({ backend: opts.backend, variant: name, poison: true });
    } catch (e) {
      for (const ex of plan.exact) report.exactness.push({ variant: name, sizes: sizesLabel(ex.sizes), ok: false, rowsChecked: 0, workRootOk: null, note: `engine did not start: ${errText(e)}` });
      say(`${name}: engine did not start: ${errText(e)}`);
      continue;
    }
    try {
      for (const [i, ex] of plan.exact.entries()) {
        const label = sizesLabel(ex.sizes);
        if (left() < 30_000) {
          report.skipped.push(`exactness ${name} ${label}: time budget`);
          continue;
        }
        const result = await checkExact(engine, refs[i]!, ex);
        report.exactness.push({ variant: name, sizes: label, ...result });
        say(`exact ${name} ${label}: ${result.ok === null ? "skipped" : result.ok && result.workRootOk ? "OK" : "MISMATCH"} (${result.rowsChecked} rows${result.note ? `; ${result.note}` : ""})`);
        save();
      }
      for (const sizes of plan.perf) {
        const label = sizesLabel(sizes);
        if (left() < 20_000) {
          report.skipped.push(`perf ${name} ${label}: time budget`);
          continue;
        }
        const p = await measure(engine, sizes, plan.perfMinMs, Math.min(left() / 4, 15_000));
        report.perf.push({ variant: name, sizes: label, ...p });
        say(`perf ${name} ${label}: ${p.note || `${p.topsGpu?.toFixed(2) ?? "-"} TOPS (GPU), ${p.topsWall.toFixed(2)} TOPS (wall), ${p.processCpuMs.toFixed(1)} ms CPU/attempt`}`);
        save();
      }
    } finally {
      await engine.destroy();
    }
  }

  // Busy-waiting: the fastest exact variant at one size, dawn.node's spinning tick vs the sleeping one.
  const busyLabel = sizesLabel(plan.busy);
  const best = bestAt(report, busyLabel);
  if (best && left() > 30_000) {
    const engine = await createEngine({ backend: opts.backend, variant: best });
    try {
      await engine.runAttempt({ seed: crypto.getRandomValues(new Uint8Array(32)), sizes: plan.busy });
      for (const mode of ["spin", "sleep"] as const) {
        setTickMode(mode);
        const b = await busy(engine, plan.busy, plan.busyAttempts);
        report.busyWait.push({ mode, variant: best, sizes: busyLabel, ...b });
        say(`busy-wait ${mode}: ${b.wallMs.toFixed(2)} ms/attempt, process CPU ${b.processCpuMs.toFixed(2)} ms, waiting thread ${b.threadCpuMs?.toFixed(2) ?? "-"} ms/attempt`);
      }
    } finally {
      setTickMode("sleep");
      await engine.destroy();
    }
    save();
  } else report.skipped.push(`busy-wait: ${best ? "time budget" : `no exact variant measured at ${busyLabel}`}`);

  // What the engine picks by itself (every automatic variant timed, the fastest exact one kept).
  if (left() > 30_000) {
    const engine = await createEngine({ backend: opts.backend });
    try {
      let last: { variant: string; ms: number } | undefined;
      for (let i = 0; i < 40 && left() > 10_000; i++) {
        const r = await engine.runAttempt({ seed: crypto.getRandomValues(new Uint8Array(32)), sizes: plan.busy });
        last = { variant: r.variant, ms: r.gpuMs ?? r.wallMs };
        if (!r.exploring) break;
      }
      report.auto = last
        ? { sizes: busyLabel, chosen: last.variant, tops: tops(plan.busy, last.ms), note: last.variant === best ? "same as the fastest measured" : `fastest measured: ${best ?? "none"}` }
        : null;
      if (report.auto) say(`auto at ${busyLabel}: ${report.auto.chosen} (${report.auto.note})`);
    } finally {
      await engine.destroy();
    }
  } else report.skipped.push("auto selection: time budget");

  report.comparison = compare(report);
  save();
  say("");
  say(markdown(report));
  const wrong = report.exactness.filter((e) => e.ok === false || e.workRootOk === false);
  if (wrong.length || !report.exactness.some((e) => e.ok === true)) {
    say(`FAILED: ${wrong.length ? wrong.map((e) => `${e.variant} ${e.sizes}: ${e.note}`).join("; ") : "no variant was checked"}`);
    process.exitCode = 1;
  }
}

function readTorch(file: string | undefined): TorchReport | null {
  if (!file) return null;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as TorchReport;
  } catch (e) {
    return { ok: false, reason: `no torch results (${errText(e)})` };
  }
}

async function checkExact(engine: Engine, ref: Reference, ex: ExactSize): Promise<Omit<ExactResult, "variant" | "sizes">> {
  let r;
  try {
    r = await engine.runAttempt({ seed: ref.seed, sizes: ex.sizes, returnY2: true });
  } catch (e) {
    const msg = errText(e);
    // A variant that cannot run these sizes (subgroup-matrix shape multiples) is not a mismatch.
    if (/no kernel variant can run|needs batch/.test(msg)) return { ok: null, rowsChecked: 0, workRootOk: null, note: `skipped: ${msg}` };
    return { ok: false, rowsChecked: 0, workRootOk: null, note: `error: ${msg}` };
  }
  const y2 = r.y2!;
  const { n } = ex.sizes;
  const rows = ex.sizes.m * ex.sizes.batch;
  let ok = true;
  let checked = 0;
  let note = "";
  if (ex.rows === "all") {
    const want = ref.all();
    const at = want.findIndex((b, i) => b !== y2[i]);
    ok = at < 0 && want.length === y2.length;
    checked = rows;
    if (!ok) note = `first difference at row ${Math.floor(at / n)}, column ${at % n}`;
  } else {
    for (const row of sampleRows(rows, ex.rows)) {
      const want = ref.row(row);
      const got = y2.subarray(row * n, (row + 1) * n);
      checked++;
      const at = want.findIndex((b, i) => b !== got[i]);
      if (at >= 0) {
        ok = false;
        note = `row ${row} differs at column ${at}`;
        break;
      }
    }
  }
  // The GPU's row leaves and root against the protocol's, computed from the GPU's own y2.
  const leaves = rowLeaves(ex.sizes, y2);
  const leavesOk = Buffer.from(leaves).equals(Buffer.from(r.leaves));
  const workRootOk = leavesOk && Buffer.from(merkleRoot(leaves)).equals(Buffer.from(r.workRoot));
  if (!workRootOk) note = `${note ? `${note}; ` : ""}GPU ${leavesOk ? "work_root" : "row leaves"} differ from the protocol's (rowLeaves/merkleRoot) of the GPU's y2`;
  return { ok, rowsChecked: checked, workRootOk, note };
}

async function measure(engine: Engine, sizes: Sizes, minMs: number, maxMs: number): Promise<Omit<PerfResult, "variant" | "sizes">> {
  const seed = (): Uint8Array => crypto.getRandomValues(new Uint8Array(32));
  try {
    await engine.runAttempt({ seed: seed(), sizes }); // buffers, weights, pipelines: not timed anyway, but first touches
    const wall: number[] = [];
    const gpu: number[] = [];
    const cpu = cpuSampler();
    const start = performance.now();
    while (wall.length < 3 || (performance.now() - start < minMs && wall.length < 30)) {
      const r = await engine.runAttempt({ seed: seed(), sizes });
      wall.push(r.wallMs);
      if (r.gpuMs !== undefined) gpu.push(r.gpuMs);
      if (performance.now() - start > maxMs) break;
    }
    const c: CpuSample = cpu.stop();
    const wallMs = median(wall);
    const gpuMs = gpu.length ? median(gpu) : null;
    return {
      attempts: wall.length,
      gpuMs,
      wallMs,
      topsGpu: gpuMs === null ? null : tops(sizes, gpuMs),
      topsWall: tops(sizes, wallMs),
      processCpuMs: c.processMs / wall.length,
      threadCpuMs: c.threadMs === null ? null : c.threadMs / wall.length,
      note: "",
    };
  } catch (e) {
    return { attempts: 0, gpuMs: null, wallMs: NaN, topsGpu: null, topsWall: NaN, processCpuMs: NaN, threadCpuMs: null, note: `not run: ${errText(e)}` };
  }
}

async function busy(engine: Engine, sizes: Sizes, attempts: number): Promise<Omit<BusyResult, "mode" | "variant" | "sizes">> {
  const cpu = cpuSampler();
  const start = performance.now();
  for (let i = 0; i < attempts; i++) await engine.runAttempt({ seed: crypto.getRandomValues(new Uint8Array(32)), sizes });
  const wallMs = (performance.now() - start) / attempts;
  const c = cpu.stop();
  const threadCpuMs = c.threadMs === null ? null : c.threadMs / attempts;
  return { attempts, wallMs, processCpuMs: c.processMs / attempts, threadCpuMs, threadCoreShare: threadCpuMs === null ? null : threadCpuMs / wallMs };
}

function bestAt(report: Report, label: string): string | undefined {
  const exact = new Set(report.exactness.filter((e) => e.ok === false || e.workRootOk === false).map((e) => e.variant));
  const rows = report.perf.filter((p) => p.sizes === label && p.attempts > 0 && !exact.has(p.variant));
  rows.sort((a, b) => (b.topsGpu ?? b.topsWall) - (a.topsGpu ?? a.topsWall));
  return rows[0]?.variant;
}

function compare(report: Report): Report["comparison"] {
  const out: Report["comparison"] = [];
  if (!report.torch?.ok) return out;
  for (const t of report.torch.results ?? []) {
    const label = sizesLabel(cube(t.size));
    const best = bestAt(report, label);
    const p = report.perf.find((x) => x.variant === best && x.sizes === label);
    if (!p) continue;
    const mine = p.topsGpu ?? p.topsWall;
    out.push({ size: t.size, bestVariant: p.variant, tops: mine, torchTops: t.tops, ratio: mine / t.tops });
  }
  return out;
}

const f = (v: number | null | undefined, digits = 2): string => (v === null || v === undefined || Number.isNaN(v) ? "–" : v.toFixed(digits));

function markdown(r: Report): string {
  const lines: string[] = [`## GPU check (${r.mode}, backend ${r.backend}, ${r.startedAt}, ${r.elapsedS.toFixed(0)} s)`, ""];
  if (!r.inspect.ok) return `${lines.join("\n")}\n${r.backend} cannot start: ${r.inspect.reason}\n`;
  const a = r.inspect.adapter;
  lines.push(
    `- Adapter: ${a.vendor} / ${a.architecture} / ${a.description}${a.isFallbackAdapter ? " (fallback/software)" : ""}`,
    `- Node ${r.node}; features: ${r.inspect.features.join(", ")}`,
    `- subgroupMatrixConfigs: ${r.inspect.subgroupMatrixConfigs.length ? r.inspect.subgroupMatrixConfigs.map((c) => `${c.componentType}→${c.resultComponentType} ${c.M}×${c.N}×${c.K}`).join(", ") : "none"}`,
    `- Subgroup sizes: ${r.inspect.subgroupMinSize}–${r.inspect.subgroupMaxSize}`,
    "",
    "### Variants",
    "",
    "| variant | available here |",
    "|---|---|",
    ...r.inspect.variants.map((v) => `| ${v.name} | ${v.problem ?? "yes"} |`),
    "",
    "### Exactness (y2 rows against computeRow; row leaves and work_root against rowLeaves/merkleRoot of the GPU's y2)",
    "",
    "| variant | size | y2 | rows checked | leaves + work_root | note |",
    "|---|---|---|---:|---|---|",
    ...r.exactness.map((e) => `| ${e.variant} | ${e.sizes} | ${e.ok === null ? "skipped" : e.ok ? "exact" : "**MISMATCH**"} | ${e.rowsChecked} | ${e.workRootOk === null ? "–" : e.workRootOk ? "exact" : "**MISMATCH**"} | ${e.note} |`),
    "",
    "### Throughput (attempt = 2·m·n·k + 2·m·n·n int8 ops; medians)",
    "",
    "| variant | size | attempts | GPU ms | TOPS (GPU) | wall ms | TOPS (wall) | CPU ms/attempt (process) | CPU ms/attempt (waiting thread) |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ...r.perf.map((p) =>
      p.note
        ? `| ${p.variant} | ${p.sizes} | 0 | – | – | – | – | – | ${p.note} |`
        : `| ${p.variant} | ${p.sizes} | ${p.attempts} | ${f(p.gpuMs)} | ${f(p.topsGpu, 3)} | ${f(p.wallMs)} | ${f(p.topsWall, 3)} | ${f(p.processCpuMs)} | ${f(p.threadCpuMs)} |`,
    ),
    "",
  );
  if (r.busyWait.length) {
    lines.push(
      "### Busy-waiting (same variant and size; dawn.node's spinning tick vs the engine's sleeping tick)",
      "",
      "| tick | variant | size | attempts | wall ms/attempt | CPU ms/attempt (process) | CPU ms/attempt (waiting thread) | waiting thread, share of one core |",
      "|---|---|---|---:|---:|---:|---:|---:|",
      ...r.busyWait.map((b) => `| ${b.mode} | ${b.variant} | ${b.sizes} | ${b.attempts} | ${f(b.wallMs)} | ${f(b.processCpuMs)} | ${f(b.threadCpuMs)} | ${b.threadCoreShare === null ? "–" : `${(100 * b.threadCoreShare).toFixed(1)} %`} |`),
      "",
    );
  }
  if (r.auto) lines.push(`Automatic choice at ${r.auto.sizes}: **${r.auto.chosen}** (${f(r.auto.tops, 3)} TOPS; ${r.auto.note}).`, "");
  lines.push("### torch._int_mm (int8 → int32), same run", "");
  if (!r.torch) lines.push("not run (no --torch file)", "");
  else if (!r.torch.ok) lines.push(`skipped: ${r.torch.reason ?? "unknown"}`, "");
  else {
    lines.push(
      `torch ${r.torch.torch ?? "?"} on ${r.torch.device ?? "?"}; TOPS = 2·n³ / time of one n³ int8 GEMM, the same ops per second as an attempt's.`,
      "",
      "| size | torch ms | torch TOPS | best variant | its TOPS | engine / torch |",
      "|---|---:|---:|---|---:|---:|",
      ...(r.torch.results ?? []).map((t) => {
        const c = r.comparison.find((x) => x.size === t.size);
        return `| ${t.size}³ | ${f(t.ms, 3)} | ${f(t.tops, 1)} | ${c?.bestVariant ?? "–"} | ${f(c?.tops, 3)} | ${c ? `${c.ratio.toFixed(3)}×` : "–"} |`;
      }),
      "",
    );
  }
  if (r.skipped.length) lines.push("Not run:", "", ...r.skipped.map((s) => `- ${s}`), "");
  return `${lines.join("\n")}\n`;
}

main().catch((e: unknown) => {
  process.stderr.write(`gpu-check failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
