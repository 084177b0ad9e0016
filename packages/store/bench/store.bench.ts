/**
 * pnpm --filter @tops/store bench
 *
 * Accepted receipts per second and accept latency, concurrency 32, no audit: the JSON-lines
 * ledger of earlier versions (group commit + fdatasync), the embedded engines (SQLite and PGlite,
 * both durable) on their worker thread and on the event loop, and PostgreSQL with one and with
 * two load processes sharing the 32 in flight. Each load
 * process is a child (bench/accept-worker.ts) started and ready before timing. Scenarios are
 * interleaved round by round so machine noise hits them alike; min and median of the repeats.
 */
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { openStore } from "../src";
import { postgresUnavailable, startPgCluster, type PgCluster } from "../test/pg-cluster";

const COUNT = Number(process.env.BENCH_COUNT ?? 4000);
const CONCURRENCY = 32;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const WORKER = fileURLToPath(new URL("./accept-worker.ts", import.meta.url));

interface RunResult {
  readonly perSecond: number;
  /** Mean event-loop utilisation of the load processes during the run. */
  readonly eventLoopBusy: number;
  readonly p50: number;
  readonly p99: number;
}

interface Scenario {
  readonly name: string;
  readonly engine: "jsonl" | "sqlite" | "sqlite-thread" | "pglite" | "pglite-thread" | "postgres";
  readonly processes: number;
}

interface WorkerResult {
  readonly startMs: number;
  readonly endMs: number;
  readonly eventLoopBusy: number;
  readonly latenciesMs: number[];
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

function startWorker(env: Record<string, string>): { ready: Promise<void>; go: () => void; result: Promise<WorkerResult> } {
  const child = spawn(process.execPath, ["--import", "tsx", WORKER], { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  let readyResolve: () => void = () => undefined;
  const ready = new Promise<void>((r) => (readyResolve = r));
  const result = new Promise<WorkerResult>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready\n")) readyResolve();
      const complete = out.slice(0, out.lastIndexOf("\n") + 1).split("\n");
      const line = complete.find((l) => l.startsWith("{"));
      if (line) resolve(JSON.parse(line) as WorkerResult);
    });
    child.once("exit", (code) => (code === 0 ? undefined : reject(new Error(`bench worker exited ${code}`))));
  });
  return { ready, go: () => child.stdin.write("go\n"), result };
}

async function runOnce(s: Scenario, template: string, cluster: PgCluster | null): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), "tops-store-bench-"));
  let databaseUrl = "";
  try {
    if (s.engine.startsWith("pglite")) cpSync(template, dir, { recursive: true });
    if (s.engine === "postgres") {
      if (!cluster) throw new Error("no cluster");
      const name = `bench_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
      const admin = new pg.Client(cluster.adminUrl);
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      databaseUrl = cluster.adminUrl.replace(/\/postgres$/, `/${name}`);
      (await openStore({ dataDir: dir, databaseUrl })).close(); // migrate before the race
    }
    const workers = Array.from({ length: s.processes }, () =>
      startWorker({
        ENGINE: s.engine,
        STORE_DATA_DIR: dir,
        DATABASE_URL: databaseUrl,
        COUNT: String(COUNT / s.processes),
        CONCURRENCY: String(CONCURRENCY / s.processes),
      }),
    );
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.go();
    const results = await Promise.all(workers.map((w) => w.result));
    const start = Math.min(...results.map((r) => r.startMs));
    const end = Math.max(...results.map((r) => r.endMs));
    const latencies = results.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
    const eventLoopBusy = results.reduce((a, r) => a + r.eventLoopBusy, 0) / results.length;
    return { perSecond: (latencies.length / (end - start)) * 1000, eventLoopBusy, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] ?? 0) : ((s[s.length / 2 - 1] ?? 0) + (s[s.length / 2] ?? 0)) / 2;
};
const fmt = (n: number, digits = 0): string => n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

const unavailable = postgresUnavailable();
const cluster = unavailable ? null : await startPgCluster();
const template = mkdtempSync(join(tmpdir(), "tops-store-bench-template-"));
try {
  await (await openStore({ dataDir: template, embeddedEngine: "pglite" })).close(); // PGlite's initdb, once
  const scenarios: Scenario[] = [
    { name: "JSON-lines ledger (group commit + fdatasync)", engine: "jsonl", processes: 1 },
    { name: "embedded, SQLite on the event loop", engine: "sqlite", processes: 1 },
    { name: "embedded, SQLite on a worker thread (embeddedThread; the aggregator's default)", engine: "sqlite-thread", processes: 1 },
    { name: "embedded, PGlite on the event loop", engine: "pglite", processes: 1 },
    { name: "embedded, PGlite on a worker thread (embeddedThread)", engine: "pglite-thread", processes: 1 },
    ...(cluster
      ? ([
          { name: "PostgreSQL, 1 process", engine: "postgres", processes: 1 },
          { name: "PostgreSQL, 2 processes", engine: "postgres", processes: 2 },
        ] as const)
      : []),
  ];
  const results = new Map<string, RunResult[]>(scenarios.map((s) => [s.name, []]));
  for (let round = 0; round < REPEATS; round++) {
    for (const s of scenarios) {
      const r = await runOnce(s, template, cluster);
      results.get(s.name)?.push(r);
      process.stderr.write(`round ${round + 1}/${REPEATS} ${s.name}: ${fmt(r.perSecond)}/s p50 ${fmt(r.p50, 2)} ms p99 ${fmt(r.p99, 2)} ms\n`);
    }
  }
  const baseline = median((results.get(scenarios[0]?.name ?? "") ?? []).map((r) => r.perSecond));
  console.log(`\n${COUNT} distinct receipts per run, ${CONCURRENCY} accepts in flight, ${REPEATS} runs each (interleaved); no audit, no HTTP: the storage alone. "Event loop busy": share of the run the load process's event loop was busy (what an HTTP server in that process loses).\n`);
  console.log("| storage | accepts/s median | accepts/s min | vs JSON-lines | p50 ms (median) | p99 ms (median) | p99 ms (max) | event loop busy (median) |");
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const s of scenarios) {
    const rs = results.get(s.name) ?? [];
    const perSecond = rs.map((r) => r.perSecond);
    console.log(
      `| ${s.name} | ${fmt(median(perSecond))} | ${fmt(Math.min(...perSecond))} | ${fmt(median(perSecond) / baseline, 2)}× | ${fmt(median(rs.map((r) => r.p50)), 2)} | ${fmt(median(rs.map((r) => r.p99)), 2)} | ${fmt(Math.max(...rs.map((r) => r.p99)), 2)} | ${fmt(100 * median(rs.map((r) => r.eventLoopBusy)))} % |`,
    );
  }
  if (!cluster) console.log(`\nPostgreSQL rows skipped: ${unavailable}`);
} finally {
  cluster?.stop();
  rmSync(template, { recursive: true, force: true });
}
