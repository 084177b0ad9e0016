/**
 * `pnpm --filter @tops/aggregator bench`: what one aggregator can take, to choose AUDIT_RATE.
 *
 *  1. Raw signature verification in this process: @noble/curves vs node:crypto (OpenSSL), the
 *     bare ECDSA check and the whole per-receipt check (payload hashing included).
 *  2. Audit cost by size and AUDIT_ROWS (rows recomputed with the reference on one core), next
 *     to a full recomputation of the attempt, with the ratio.
 *  3. POST /verify throughput over real HTTP against the real CLI in child processes (keep-alive,
 *     32 concurrent requests), no audit: every storage side by side in interleaved rounds — the
 *     JSON-lines ledger of before the database (bench/jsonl-aggregator.ts), the embedded engines
 *     (SQLite, PGlite) on their thread and inline, PostgreSQL with one and two aggregators — with
 *     the CPU each process spent per 1000 receipts.
 *  4. The same with every receipt audited (/verify → 202 → openings → /audit → 200).
 * Prints markdown tables (README.md quotes them). Takes about five minutes.
 *
 * BENCH_SECTIONS=signatures,audits,store,http picks parts; BENCH_HTTP_ONLY=<regex> picks storage
 * rows; BENCH_ROUNDS (3), BENCH_HTTP_COUNT (6000), BENCH_HTTP_WARMUP (3000, sent first and not timed)
 * and BENCH_HTTP_CONCURRENCY (32) size them; BENCH_CLI_NODE_ARGS passes node flags to the
 * aggregators (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { verify as nodeVerify } from "node:crypto";
import { Agent, request } from "node:http";
import { cpus, tmpdir } from "node:os";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { blake3 } from "@noble/hashes/blake3.js";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  assertReceiptSignature, auditMacs, bytesToHex, computeY2, deriveSeed, hexToBytes, MerkleTree, openRows, parseReceipt, publicKeyHex,
  rowLeaves, serializeOpenings, serializeReceipt, signReceipt, signingPayload, utf8, weightsFor, type AuditRequest, type Receipt, type Sizes,
} from "@tops/protocol";
import { createRowKernel } from "@tops/rowkernel";
import { startPgCluster, postgresUnavailable } from "@tops/store/testing";
import { computeAuditRows, EPOCH_SECRET_FILE, kernelRows, NodeSignatureVerifier, publicKeyObject, type Challenge } from "../src/index";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const tsx = join(packageDir, "..", "..", "node_modules", ".bin", "tsx");

function rate(fn: () => void, minMs = 1500): { perSecond: number; usEach: number } {
  for (let i = 0; i < 50; i++) fn();
  let n = 0;
  const t0 = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
    elapsed = performance.now() - t0;
  }
  return { perSecond: (n / elapsed) * 1000, usEach: (elapsed / n) * 1000 };
}

const fmt = (x: number, digits = 0): string => x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const sizeName = (s: Sizes): string => `${s.m}×${s.n}×${s.k}${s.batch > 1 ? ` ×${s.batch}` : ""}`;

// ---------- 1. signatures ----------

function signatureRates(): string[] {
  const sk = secp256k1.utils.randomSecretKey();
  const body = {
    device_did: "did:bench:1", epoch_id: 1, prev_hash_hex: "ab".repeat(32), nonce: 1, work_root_hex: "cd".repeat(32),
    sizes: { m: 64, n: 64, k: 64, batch: 1 }, time_ms: 3, kernel_ver: "ts-ref/1", driver_hint: "bench",
  };
  const receipt = signReceipt(body, sk);
  const preimage = blake3(utf8(signingPayload(receipt)));
  const digest = sha256(preimage);
  const sig = hexToBytes(receipt.sig_hex);
  const pub = hexToBytes(receipt.pubkey_hex);
  const key = publicKeyObject(receipt.pubkey_hex);
  const nodeVerifier = new NodeSignatureVerifier();
  const json = serializeReceipt(receipt);

  const rows: [string, { perSecond: number; usEach: number }][] = [
    ["@noble/curves secp256k1.verify (digest given)", rate(() => void secp256k1.verify(sig, digest, pub, { prehash: false, lowS: true }))],
    ["node:crypto verify (cached KeyObject, digest preimage given)", rate(() => void nodeVerify("sha256", preimage, { key, dsaEncoding: "ieee-p1363" }, sig))],
    ["protocol assertReceiptSignature (@noble, per receipt)", rate(() => assertReceiptSignature(receipt))],
    ["aggregator NodeSignatureVerifier.assert (per receipt)", rate(() => nodeVerifier.assert(receipt))],
    ["protocol parseReceipt (strict parse, per receipt)", rate(() => void parseReceipt(json))],
  ];
  return [
    "| check (one core, this process) | per second | µs each |",
    "|---|---:|---:|",
    ...rows.map(([name, r]) => `| ${name} | ${fmt(r.perSecond)} | ${fmt(r.usEach, 1)} |`),
  ];
}

// ---------- 2. audit cost ----------

const AUDIT_SIZES: Sizes[] = [256, 512, 1024, 2048, 4096].map((d) => ({ m: d, n: d, k: d, batch: 1 }));
/** A full recomputation is only timed up to here; above, it is estimated from the measured time per multiply-add. */
const FULL_TIMED_MAX = 512;

function timeRepeated(fn: () => void, reps: number): { min: number; median: number } {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { min: times[0]!, median: times[Math.floor(times.length / 2)]! };
}

async function auditCosts(): Promise<string[]> {
  const kernel = await createRowKernel();
  const attempt = (sizes: Sizes, nonce: number) => ({ pubkey: new Uint8Array(33).fill(2), prevHash: new Uint8Array(32).fill(1), deviceDid: "did:bench:1", nonce, sizes });
  const fullMacs = (s: Sizes): number => s.batch * s.m * (s.k * s.n + s.n * s.n);
  let nsPerMac = 0;
  const lines: string[] = [];
  for (const sizes of AUDIT_SIZES) {
    let full: string;
    let fullMs: number;
    if (sizes.m <= FULL_TIMED_MAX) {
      const t = timeRepeated(() => void computeY2(deriveSeed(attempt(sizes, 9)), sizes), 3);
      nsPerMac = (t.min * 1e6) / fullMacs(sizes);
      fullMs = t.min;
      full = `${fmt(t.min, 1)} / ${fmt(t.median, 1)}`;
    } else {
      fullMs = (fullMacs(sizes) * nsPerMac) / 1e6;
      full = `≈ ${fmt(fullMs)} (est.)`;
    }
    for (const rows of [16, 64]) {
      const picks = Array.from({ length: rows }, (_, i) => (i * 7919) % (sizes.batch * sizes.m));
      const job = (nonce: number) => ({ attempt: attempt(sizes, nonce), rows: picks });
      const kernelCold = await timeAsync(() => kernelRows(kernel, job(1)), 1);
      const kernelWarm = await timeAsync(() => kernelRows(kernel, job(2)), 7);
      // The reference only where it takes seconds, not minutes.
      let reference = "–";
      if (sizes.m <= 1024) {
        weightsFor(sizes.k, sizes.n);
        const t = timeRepeated(() => void computeAuditRows(job(3)), sizes.m >= 1024 ? 2 : 5);
        reference = `${fmt(t.min, 1)} / ${fmt(t.median, 1)}`;
      }
      lines.push(`| ${sizeName(sizes)} | ${rows} | ${fmt(kernelWarm.min, 2)} / ${fmt(kernelWarm.median, 2)} | ${fmt(kernelCold.min, 1)} | ${reference} | ${full} | 1/${fmt(fullMacs(sizes) / auditMacs(sizes, rows))} | 1/${fmt(fullMs / kernelWarm.min)} |`);
    }
  }
  await kernel.close();
  return [
    `audit kernel: ${kernel.name}`,
    "",
    "| attempt sizes | AUDIT_ROWS | audit ms, kernel, weights cached (min / median) | audit ms, kernel, cold | audit ms, TS reference (min / median) | full recomputation ms, TS reference (min / median) | audit / full, multiply-adds | audit (kernel) / full (TS), time |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...lines,
  ];
}

async function timeAsync(fn: () => Promise<unknown>, reps: number): Promise<{ min: number; median: number }> {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { min: times[0]!, median: times[Math.floor(times.length / 2)]! };
}

// ---------- 3. HTTP ----------

interface Server {
  readonly child: ChildProcess;
  readonly url: string;
  /** Its DATA_DIR, removed when it stops (an embedded one holds a database). */
  readonly dataDir: string;
}

/** The same epoch secret for every aggregator of a row, so one set of signed receipts serves all of them. */
const BENCH_SECRET_HEX = "5e".repeat(32);

function benchDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tops-agg-bench-"));
  writeFileSync(join(dir, EPOCH_SECRET_FILE), `${BENCH_SECRET_HEX}\n`, { mode: 0o600 });
  return dir;
}

/** The real CLI (or bench/jsonl-aggregator.ts: the same pipeline on the JSON-lines ledger) in a child process. */
async function startCli(env: Record<string, string>, entry = join(packageDir, "src", "cli.ts")): Promise<Server> {
  const dataDir = benchDataDir();
  const child = spawn(tsx, [...(process.env.BENCH_CLI_NODE_ARGS ?? "").split(" ").filter(Boolean), entry], {
    env: { PATH: process.env.PATH ?? "", AGGREGATOR_HOST: "127.0.0.1", AGGREGATOR_PORT: "0", LOG_LEVEL: "info", DATA_DIR: dataDir, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = "";
    const onData = (d: Buffer): void => {
      buffer += d.toString();
      const m = /"event":"listening","url":"([^"]+)"/.exec(buffer);
      if (m) {
        child.stdout!.off("data", onData);
        // Keep draining the per-verify log lines so the child never blocks on a full pipe.
        child.stdout!.resume();
        resolve(m[1]!);
      }
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code) => {
      rmSync(dataDir, { recursive: true, force: true });
      reject(new Error(`aggregator exited with ${code}: ${buffer}`));
    });
  });
  return { child, url, dataDir };
}

/** CPU time (user + system, ms) of a process and all its descendants, from /proc (Linux). */
function treeCpuMs(rootPid: number): number {
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
      stats.set(Number(name), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // exited meanwhile
    }
  }
  let ticks = 0;
  const todo = [rootPid];
  while (todo.length > 0) {
    const pid = todo.pop()!;
    ticks += stats.get(pid)?.ticks ?? 0;
    for (const [child, st] of stats) if (st.ppid === pid) todo.push(child);
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

/** Database commits an aggregator has timed so far (its commit-latency histogram's count; 0 for the JSON-lines ledger). */
async function commitsOf(s: Server): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("tops_aggregator_db_commit_duration_ms_count"));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

async function stopCli(s: Server): Promise<void> {
  const exited = new Promise((r) => s.child.once("exit", r));
  s.child.kill("SIGTERM");
  await exited;
  rmSync(s.dataDir, { recursive: true, force: true });
}

async function challengeOf(url: string): Promise<Challenge> {
  return (await (await fetch(`${url}/challenge`)).json()) as Challenge;
}

/** A signed receipt and what its worker needs to answer an audit of it. */
interface BenchWork {
  readonly json: string;
  readonly open?: (audit: AuditRequest) => string;
}

function makeReceipts(sk: Uint8Array, ch: Challenge, sizes: Sizes, count: number, honest: boolean): BenchWork[] {
  const did = "did:bench:1";
  return Array.from({ length: count }, (_, nonce) => {
    const seed = deriveSeed({ pubkey: secp256k1.getPublicKey(sk, true), prevHash: hexToBytes(ch.prev_hash_hex), deviceDid: did, nonce });
    const y2 = honest ? computeY2(seed, sizes) : undefined;
    const tree = y2 ? MerkleTree.fromLeaves(rowLeaves(sizes, y2)) : undefined;
    const receipt: Receipt = signReceipt({
      device_did: did, epoch_id: ch.epoch_id, prev_hash_hex: ch.prev_hash_hex, nonce, work_root_hex: tree ? bytesToHex(tree.root) : "ef".repeat(32), sizes,
      time_ms: 1, kernel_ver: "ts-ref/1", driver_hint: "bench",
    }, sk);
    const open = y2 && tree
      ? (audit: AuditRequest) => serializeOpenings({ audit_id: audit.audit_id, receipt, openings: openRows(tree, audit.rows, (r) => y2.subarray(r * sizes.n, (r + 1) * sizes.n)) })
      : undefined;
    return { json: serializeReceipt(receipt), ...(open ? { open } : {}) };
  });
}

function post(agent: Agent, url: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** What a worker does for one receipt: /verify, and on 202 the openings to /audit. Returns the final status. */
async function deliver(agent: Agent, url: string, w: BenchWork): Promise<number> {
  const first = await post(agent, `${url}/verify`, w.json);
  if (first.status !== 202 || !w.open) return first.status;
  const { audit } = JSON.parse(first.text) as { audit: AuditRequest };
  return (await post(agent, `${url}/audit`, w.open(audit))).status;
}

async function load(urls: readonly string[], bodies: BenchWork[], concurrency = 32): Promise<{ perSecond: number; p50: number; p99: number; accepted: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let accepted = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const started = performance.now();
      if ((await deliver(agent, urls[next % urls.length]!, body)) === 200) accepted++;
      latencies.push(performance.now() - started);
    }
  }));
  const elapsed = performance.now() - t0;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
  return { perSecond: (bodies.length / elapsed) * 1000, p50: q(0.5), p99: q(0.99), accepted };
}

interface StoreScenario {
  readonly name: string;
  readonly env: Record<string, string>;
  /** Aggregator processes sharing the store (PostgreSQL only); the load is spread over them. */
  readonly processes: number;
  readonly entry?: string;
  readonly postgres?: boolean;
}

interface StoreRun {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  /** Receipts per database commit (group commit's batch size); 0 where nothing was committed to a database. */
  readonly receiptsPerCommit: number;
  /** CPU ms per 1000 receipts. */
  readonly aggregatorCpu: number;
  readonly postgresCpu: number;
  readonly generatorCpu: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * AUDIT_RATE=0: what the store costs per accepted receipt, every storage side by side, rounds
 * interleaved so machine noise hits them alike. One set of signed receipts serves every run
 * (same epoch secret, a fresh store each run).
 */
async function storeThroughput(): Promise<string[]> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const count = Number(process.env.BENCH_HTTP_COUNT ?? 6000);
  const concurrency = Number(process.env.BENCH_HTTP_CONCURRENCY ?? 32);
  // Receipts sent to each fresh aggregator before the timed run: PGlite's first
  // seconds go to V8 compiling PostgreSQL's WASM to optimised code on background threads
  // (≈4.5 s of CPU on this VM, once per process), which is start-up, not what a receipt costs.
  const warmup = Number(process.env.BENCH_HTTP_WARMUP ?? 3000);
  const sk = secp256k1.utils.randomSecretKey();
  const cluster = postgresUnavailable() === null ? await startPgCluster() : undefined;
  const common = { AUDIT_RATE: "0", EPOCH_SECONDS: "3600", ALLOWED_KEYS: publicKeyHex(sk) };
  const all: StoreScenario[] = [
    { name: "JSON-lines ledger (before the database; in-memory replay index)", env: {}, processes: 1, entry: join(packageDir, "bench", "jsonl-aggregator.ts") },
    { name: "embedded SQLite, on its own thread (default)", env: {}, processes: 1 },
    { name: "embedded SQLite, inline (EMBEDDED_DB_THREAD=0)", env: { EMBEDDED_DB_THREAD: "0" }, processes: 1 },
    { name: "embedded PGlite, on its own thread (EMBEDDED_ENGINE=pglite)", env: { EMBEDDED_ENGINE: "pglite" }, processes: 1 },
    { name: "embedded PGlite, inline", env: { EMBEDDED_ENGINE: "pglite", EMBEDDED_DB_THREAD: "0" }, processes: 1 },
    ...(cluster
      ? [
          { name: "PostgreSQL, 1 aggregator", env: {}, processes: 1, postgres: true },
          { name: "PostgreSQL, 2 aggregators", env: {}, processes: 2, postgres: true },
        ]
      : []),
  ];
  const only = process.env.BENCH_HTTP_ONLY ? new RegExp(process.env.BENCH_HTTP_ONLY) : null;
  const scenarios = all.filter((x) => !only || only.test(x.name));
  let bodies: BenchWork[] | undefined;
  const results = new Map<string, StoreRun[]>(scenarios.map((x) => [x.name, []]));
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const sc of scenarios) {
        const servers: Server[] = [];
        try {
          const env = { ...common, ...sc.env, ...(sc.postgres && cluster ? { DATABASE_URL: cluster.newDatabase() } : {}) };
          for (let i = 0; i < sc.processes; i++) servers.push(await startCli(env, sc.entry));
          bodies ??= makeReceipts(sk, await challengeOf(servers[0]!.url), { m: 256, n: 256, k: 256, batch: 1 }, warmup + count, false);
          if (warmup > 0) {
            const w = await load(servers.map((x) => x.url), bodies.slice(0, warmup), concurrency);
            if (w.accepted !== warmup) throw new Error(`${sc.name}: only ${w.accepted} of ${warmup} warm-up receipts accepted`);
          }
          const commitsBefore = await Promise.all(servers.map(commitsOf));
          const cpuBefore = servers.map((x) => treeCpuMs(x.child.pid!));
          const pgBefore = sc.postgres && cluster ? treeCpuMs(cluster.serverPid()) : 0;
          const genBefore = process.cpuUsage();
          const r = await load(servers.map((x) => x.url), bodies.slice(warmup), concurrency);
          const gen = process.cpuUsage(genBefore);
          const aggCpu = servers.reduce((n, x, i) => n + treeCpuMs(x.child.pid!) - cpuBefore[i]!, 0);
          const commits = (await Promise.all(servers.map(commitsOf))).reduce((n, c, i) => n + c - commitsBefore[i]!, 0);
          const pgCpu = sc.postgres && cluster ? treeCpuMs(cluster.serverPid()) - pgBefore : 0;
          if (r.accepted !== count) throw new Error(`${sc.name}: only ${r.accepted} of ${count} accepted`);
          const per1000 = (ms: number): number => (ms / count) * 1000;
          const run: StoreRun = {
            perSecond: r.perSecond, p50: r.p50, p99: r.p99, receiptsPerCommit: commits > 0 ? count / commits : 0,
            aggregatorCpu: per1000(aggCpu), postgresCpu: per1000(pgCpu), generatorCpu: per1000((gen.user + gen.system) / 1000),
          };
          results.get(sc.name)!.push(run);
          console.error(`round ${round}/${rounds} ${sc.name}: ${fmt(run.perSecond)}/s p50 ${fmt(run.p50, 1)} ms p99 ${fmt(run.p99, 1)} ms`);
        } finally {
          for (const x of servers) await stopCli(x);
        }
      }
    }
  } finally {
    // Also when a run fails: the cluster's server processes would outlive the bench.
    cluster?.stop();
  }
  const baselineRuns = results.get(scenarios[0]?.name ?? "") ?? [];
  const baseline = median(baselineRuns.map((x) => x.perSecond));
  return [
    ...(cluster ? [] : [`(PostgreSQL rows skipped: ${postgresUnavailable()})`, ""]),
    `POST /verify, AUDIT_RATE=0: ${count} receipts of 256³ per run after ${warmup} of warm-up, ${concurrency} in flight over keep-alive HTTP, ${rounds} runs each (interleaved); the load`
      + " generator runs in this process on the same cores. CPU = user + system time of the process trees per 1000 receipts (the"
      + " aggregator's includes its store thread; PostgreSQL's is the server and its backends).",
    "",
    "| storage | receipts/s median | min | vs JSON-lines | each round | p50 ms | p99 ms | receipts / commit | CPU ms / 1000 receipts: aggregator(s) | PostgreSQL | load generator |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...scenarios.map((sc) => {
      const rs = results.get(sc.name) ?? [];
      const m = (f: (x: StoreRun) => number): number => median(rs.map(f));
      return `| ${sc.name} | ${fmt(m((x) => x.perSecond))} | ${fmt(Math.min(...rs.map((x) => x.perSecond)))} | ${fmt(m((x) => x.perSecond) / baseline, 2)}× | ${rs.map((x, i) => fmt(x.perSecond / (baselineRuns[i]?.perSecond ?? Number.NaN), 2)).join(" / ")} | ${fmt(m((x) => x.p50), 1)} | ${fmt(m((x) => x.p99), 1)} | ${m((x) => x.receiptsPerCommit) > 0 ? fmt(m((x) => x.receiptsPerCommit), 1) : "–"} | ${fmt(m((x) => x.aggregatorCpu))} | ${sc.postgres ? fmt(m((x) => x.postgresCpu)) : "–"} | ${fmt(m((x) => x.generatorCpu))} |`;
    }),
  ];
}

interface AuditScenario {
  readonly name: string;
  readonly env: Record<string, string>;
  readonly sizes: Sizes;
  readonly count: number;
}

/** Every receipt audited: /verify → 202 → openings → /audit → 200. */
async function auditThroughput(): Promise<string[]> {
  const sk = secp256k1.utils.randomSecretKey();
  const threads = String(Math.max(1, Math.min(4, cpus().length - 1)));
  const scenarios: AuditScenario[] = [
    { name: "64³, main thread", env: { AUDIT_THREADS: "0" }, sizes: { m: 64, n: 64, k: 64, batch: 1 }, count: 600 },
    { name: `64³, ${threads} audit thread(s)`, env: { AUDIT_THREADS: threads }, sizes: { m: 64, n: 64, k: 64, batch: 1 }, count: 600 },
    { name: "256³, main thread", env: { AUDIT_THREADS: "0" }, sizes: { m: 256, n: 256, k: 256, batch: 1 }, count: 60 },
    { name: `256³, ${threads} audit thread(s)`, env: { AUDIT_THREADS: threads }, sizes: { m: 256, n: 256, k: 256, batch: 1 }, count: 60 },
  ];
  const rows: string[] = [];
  for (const sc of scenarios) {
    const server = await startCli({ ALLOWED_KEYS: publicKeyHex(sk), AUDIT_RATE: "1", ...sc.env });
    try {
      const bodies = makeReceipts(sk, await challengeOf(server.url), sc.sizes, sc.count, true);
      const r = await load([server.url], bodies);
      if (r.accepted !== sc.count) throw new Error(`${sc.name}: only ${r.accepted} of ${sc.count} accepted`);
      rows.push(`| AUDIT_RATE=1, ${sc.name} | ${sizeName(sc.sizes)} | ${sc.count} | ${fmt(r.perSecond)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} |`);
    } finally {
      await stopCli(server);
    }
  }
  return [
    "| POST /verify + /audit over HTTP (32 concurrent, keep-alive; load generator on the same cores) | sizes | receipts | receipts/s | p50 ms | p99 ms |",
    "|---|---|---:|---:|---:|---:|",
    ...rows,
  ];
}

const started = performance.now();
const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
console.log(`tops-aggregator verify benchmark — Node ${process.version}, ${cpus().length} × ${cpu}\n`);
const sections = (process.env.BENCH_SECTIONS ?? "signatures,audits,store,http").split(",");
if (sections.includes("signatures")) console.log(signatureRates().join("\n"), "\n");
if (sections.includes("audits")) console.log((await auditCosts()).join("\n"), "\n");
if (sections.includes("store")) console.log((await storeThroughput()).join("\n"), "\n");
if (sections.includes("http")) console.log((await auditThroughput()).join("\n"), "\n");
console.log(`(${fmt((performance.now() - started) / 1000, 1)} s)`);
