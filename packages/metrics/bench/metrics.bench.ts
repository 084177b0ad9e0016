/**
 * What metrics cost the worker: `pnpm --filter @tops/metrics bench` (about 30–40 s).
 *
 *  1. Recording one attempt's metrics, enabled vs the METRICS_ENABLED=0 null object (ns/op).
 *  2. A simulated attempt loop with metrics on vs off, side by side: attempts that do ~1 ms of
 *     int8 work (realistic) and empty attempts (the worst case). On/off rounds are interleaved
 *     so machine noise hits both alike; the medians are compared.
 *  3. One scrape's latency: render only, and over HTTP, at the worker's full cardinality; with
 *     and without the process metrics; and a registry with 100 (and 1000) label sets.
 *  4. Heap retained per WorkerMetrics instance (the contract estimates ~2 KB).
 */
import { request, Agent } from "node:http";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Registry } from "prom-client";
import { catalog } from "../src/catalog";
import { histogramFrom } from "../src/factory";
import {
  createAggregatorMetrics, createWorkerMetrics, metricsConfigFromEnv, renderRegistry, startMetricsServer,
  type ExpositionFormat, type WorkerMetrics,
} from "../src/index";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const rows: [string, string, string][] = [];
function row(what: string, value: string, note = ""): void {
  rows.push([what, value, note]);
  console.error(`  ${what}: ${value} ${note}`); // progress on stderr; the table goes to stdout
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

const nsNow = (): number => Number(process.hrtime.bigint());
const workerFactory = (enabled: boolean): WorkerMetrics =>
  createWorkerMetrics({ enabled, deviceDid: "did:peaq:BENCH", version: "0.1.0", staticLabels: { region: "eu", rack: "7" } });

// ---------------------------------------------------------------- 1. ns per recorded attempt
function nsPerAttempt(m: WorkerMetrics, iterations: number): number {
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = nsNow();
    for (let i = 0; i < iterations; i++) {
      m.attemptStarted();
      if ((i & 15) === 0) m.attemptFailed({ durationMs: 40 + (i & 1023), errorClass: "network" });
      else m.attemptSucceeded({ durationMs: 40 + (i & 1023), ops: 2_147_483_648 });
      m.networkLatency(i & 511);
    }
    rounds.push((nsNow() - t0) / iterations);
  }
  return median(rounds);
}

// ---------------------------------------------------------------- 2. simulated attempt loop
const A = new Int8Array(4096).map((_, i) => ((i * 37) % 255) - 127);
const B = new Int8Array(4096).map((_, i) => ((i * 91) % 255) - 127);
let sink = 0;
/** Deterministic int8 multiply-accumulate work: `reps` passes over 4096-element vectors. */
function work(reps: number): void {
  let acc = 0;
  for (let r = 0; r < reps; r++) for (let i = 0; i < 4096; i++) acc += (A[i] ?? 0) * (B[i] ?? 0);
  sink += acc;
}

function calibrateReps(targetMs: number): number {
  let reps = 8;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) work(reps);
    const perCall = (performance.now() - t0) / 20;
    if (perCall >= targetMs * 0.5) return Math.max(1, Math.round((reps * targetMs) / perCall));
    reps *= 2;
  }
}

/** Attempts per second of a loop whose attempts each do `reps` of work and report to `m`. */
function loopThroughput(m: WorkerMetrics, attempts: number, reps: number): number {
  const t0 = performance.now();
  for (let i = 0; i < attempts; i++) {
    const start = performance.now();
    m.attemptStarted();
    if (reps > 0) work(reps);
    m.attemptSucceeded({ durationMs: performance.now() - start, ops: reps * 4096 * 2 });
  }
  return attempts / ((performance.now() - t0) / 1000);
}

function sideBySide(label: string, attempts: number, reps: number, rounds: number): void {
  const on = workerFactory(true);
  const off = workerFactory(false);
  loopThroughput(on, Math.min(attempts, 2000), reps); // warm up both paths
  loopThroughput(off, Math.min(attempts, 2000), reps);
  const onRates: number[] = [];
  const offRates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate the order so drift (thermal, neighbours) does not favour one side.
    if (r % 2 === 0) { offRates.push(loopThroughput(off, attempts, reps)); onRates.push(loopThroughput(on, attempts, reps)); }
    else { onRates.push(loopThroughput(on, attempts, reps)); offRates.push(loopThroughput(off, attempts, reps)); }
  }
  const onMed = median(onRates);
  const offMed = median(offRates);
  const fmt = (x: number): string => (x >= 1e5 ? `${(x / 1e6).toFixed(2)} M/s` : `${x.toFixed(1)} /s`);
  row(`${label}: attempts/s metrics OFF`, fmt(offMed));
  row(`${label}: attempts/s metrics ON`, fmt(onMed), `overhead ${(((offMed - onMed) / offMed) * 100).toFixed(2)} % (measured, median of ${rounds} interleaved rounds)`);
}

// ---------------------------------------------------------------- 3. scrape latency
async function renderLatency(label: string, registry: Registry, format: ExpositionFormat, n: number): Promise<void> {
  for (let i = 0; i < 50; i++) await renderRegistry(registry, format);
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    bytes = (await renderRegistry(registry, format)).length;
    times.push(performance.now() - t0);
  }
  row(`${label} (${format}, render)`, `p50 ${median(times).toFixed(3)} ms`, `p99 ${percentile(times, 99).toFixed(3)} ms, ${(bytes / 1024).toFixed(1)} KiB`);
}

function httpGet(agent: Agent, port: number, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent, headers }, (res) => {
      let n = 0;
      res.on("data", (c: Buffer) => { n += c.length; });
      res.on("end", () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end();
  });
}

async function httpLatency(m: WorkerMetrics, n: number): Promise<void> {
  const config = metricsConfigFromEnv({ METRICS_HOST: "127.0.0.1", METRICS_PORT: "0", METRICS_RATE_LIMIT_PER_SECOND: "0" });
  const server = await startMetricsServer(m, config);
  if (!server) throw new Error("no server");
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const cases: [string, Record<string, string>][] = [
    ["text", {}],
    ["text+gzip", { "accept-encoding": "gzip" }],
    ["openmetrics", { accept: "application/openmetrics-text;version=1.0.0,text/plain;q=0.5" }],
  ];
  for (const [name, headers] of cases) {
    for (let i = 0; i < 30; i++) await httpGet(agent, server.port, "/prometheus", headers);
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      bytes = await httpGet(agent, server.port, "/prometheus", headers);
      times.push(performance.now() - t0);
    }
    row(`worker registry, full cardinality (GET /prometheus ${name})`, `p50 ${median(times).toFixed(3)} ms`, `p99 ${percentile(times, 99).toFixed(3)} ms, ${(bytes / 1024).toFixed(1)} KiB on the wire`);
  }
  agent.destroy();
  await server.close();
}

function labelledRegistry(labelSets: number): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ region: "eu", rack: "7" });
  const agg = createAggregatorMetrics(registry);
  const outcomes = ["accepted", "rejected", "duplicate", "late"];
  for (let i = 0; i < labelSets; i++) agg.receipts.inc({ outcome: outcomes[i % 4] ?? "accepted", code: `code_${i}` }, i + 1);
  for (let i = 0; i < 1000; i++) agg.verifyDurationMs.observe(i % 300);
  agg.audits.inc({ result: "match" });
  return registry;
}

// ---------------------------------------------------------------- 4. heap per instance
/** Heap retained per object made by `make`, averaged over `n` live objects. */
function heapPer(make: () => unknown, n: number): number {
  const keep: unknown[] = [];
  gc(); gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) keep.push(make());
  gc(); gc();
  const after = process.memoryUsage().heapUsed;
  if (keep.length !== n) throw new Error("unreachable");
  return (after - before) / n;
}

function usedWorker(enabled: boolean): WorkerMetrics {
  const m = workerFactory(enabled);
  m.attemptSucceeded({ durationMs: 50, ops: 1 });
  m.attemptFailed({ durationMs: 1500, errorClass: "gpu" });
  m.networkLatency(4);
  return m;
}

/** One prom-client histogram with the catalog's buckets, as the worker has it. */
function histogram(key: "attemptDurationMs" | "networkLatencyMs"): unknown {
  return histogramFrom(catalog[key], new Registry());
}

async function main(): Promise<void> {
  const started = performance.now();
  console.error("metrics bench (progress):");

  const on = nsPerAttempt(workerFactory(true), 500_000);
  const off = nsPerAttempt(workerFactory(false), 500_000);
  row("record one attempt (started + succeeded/failed + latency), ON", `${on.toFixed(1)} ns/op`);
  row("record one attempt, OFF (null object)", `${off.toFixed(1)} ns/op`);

  const reps = calibrateReps(1);
  const t0 = performance.now();
  work(reps);
  const attemptMs = performance.now() - t0;
  row("computed overhead for a ~1 ms attempt", `${(((on - off) / (attemptMs * 1e6)) * 100).toFixed(4)} %`, `(ON − OFF ns) / attempt time; attempt = ${attemptMs.toFixed(3)} ms of int8 MACs`);
  sideBySide("~1 ms attempt", 400, reps, 8);
  sideBySide("empty attempt", 300_000, 0, 7);

  const worker = workerFactory(true);
  for (let i = 0; i < 1000; i++) {
    worker.attemptStarted();
    worker.attemptSucceeded({ durationMs: i % 2500, ops: 1e9 });
    if (i % 7 === 0) worker.attemptFailed({ durationMs: i % 300, errorClass: "signature" });
    worker.networkLatency(i % 600);
  }
  worker.setInfo({ backend: "webgpu", adapter: "bench", kernelVer: "k1" });
  const workerRegistry = worker.registry;
  if (!workerRegistry) throw new Error("disabled");
  await renderLatency("worker registry, full cardinality", workerRegistry, "prometheus", 2000);
  await renderLatency("worker registry, full cardinality", workerRegistry, "openmetrics", 2000);
  // What the process metrics (prom-client's default collectors, on by default) add to a scrape.
  const bare = createWorkerMetrics({ deviceDid: "did:peaq:BENCH", version: "0.1.0", processMetrics: false }).registry;
  const withProcess = createWorkerMetrics({ deviceDid: "did:peaq:BENCH", version: "0.1.0" }).registry;
  if (!bare || !withProcess) throw new Error("disabled");
  await renderLatency("worker registry without process metrics", bare, "prometheus", 2000);
  await renderLatency("worker registry with process metrics", withProcess, "prometheus", 2000);
  await httpLatency(worker, 1000);
  await renderLatency("100 label sets", labelledRegistry(100), "prometheus", 1000);
  await renderLatency("100 label sets", labelledRegistry(100), "openmetrics", 1000);
  await renderLatency("1000 label sets", labelledRegistry(1000), "prometheus", 300);

  const heapOn = heapPer(() => usedWorker(true), 500);
  const heapOff = heapPer(() => usedWorker(false), 500);
  const heapDuration = heapPer(() => histogram("attemptDurationMs"), 500);
  const heapLatency = heapPer(() => histogram("networkLatencyMs"), 500);
  const kib = (b: number): string => `${(b / 1024).toFixed(1)} KiB`;
  row("heap per WorkerMetrics instance, ON", kib(heapOn), "registry + 19 metrics + state, after one attempt of each kind (contract: ~2 KB)");
  row("  of which prom-client histogram, buckets ≤ 2000", kib(heapDuration), "bucket maps keyed by bound become V8 arrays sized by the largest bound");
  row("  of which prom-client histogram, buckets ≤ 500", kib(heapLatency), "same, for tops_worker_network_latency_ms");
  row("heap per WorkerMetrics instance, OFF", `${heapOff.toFixed(0)} B`, "frozen null object");

  const w1 = Math.max(...rows.map((r) => r[0].length), 6);
  const w2 = Math.max(...rows.map((r) => r[1].length), 5);
  const line = (a: string, b: string, c: string): string => `| ${a.padEnd(w1)} | ${b.padStart(w2)} | ${c}`;
  console.log(`\n@tops/metrics bench — node ${process.version}, ${process.platform}/${process.arch}\n`);
  console.log(line("what", "value", "notes"));
  console.log(`|${"-".repeat(w1 + 2)}|${"-".repeat(w2 + 2)}|------`);
  for (const [a, b, c] of rows) console.log(line(a, b, c));
  console.log(`\n(${((performance.now() - started) / 1000).toFixed(1)} s; sink ${sink & 1})`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
