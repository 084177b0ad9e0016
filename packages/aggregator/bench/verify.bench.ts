/**
 * `pnpm --filter @tops/aggregator bench`: what one aggregator can take, to choose AUDIT_RATE.
 *
 *  1. Raw signature verification in this process: @noble/curves vs node:crypto (OpenSSL), the
 *     bare ECDSA check and the whole per-receipt check (payload hashing included).
 *  2. Audit cost by size and AUDIT_ROWS (rows recomputed with the reference on one core), next
 *     to a full recomputation of the attempt, with the ratio.
 *  3. POST /verify throughput over real HTTP against the real CLI in a child process
 *     (keep-alive, 32 concurrent requests), without audits and with every receipt audited
 *     (each audited receipt: /verify → 202 → openings → /audit → 200).
 * Prints markdown tables (README.md quotes them). Takes about a minute.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { verify as nodeVerify } from "node:crypto";
import { Agent, request } from "node:http";
import { cpus, tmpdir } from "node:os";
import { mkdtempSync } from "node:fs";
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
import { computeAuditRows, kernelRows, NodeSignatureVerifier, publicKeyObject, type Challenge } from "../src/index";

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
}

async function startCli(env: Record<string, string>): Promise<Server> {
  const child = spawn(tsx, [...(process.env.PROBE_NODE_ARGS ?? "").split(" ").filter(Boolean), join(packageDir, "src", "cli.ts")], {
    env: { PATH: process.env.PATH ?? "", AGGREGATOR_HOST: "127.0.0.1", AGGREGATOR_PORT: "0", LOG_LEVEL: "info", DATA_DIR: mkdtempSync(join(tmpdir(), "tops-agg-bench-")), ...env },
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
    child.once("exit", (code) => reject(new Error(`aggregator exited with ${code}: ${buffer}`)));
  });
  return { child, url };
}

async function stopCli(s: Server): Promise<void> {
  const exited = new Promise((r) => s.child.once("exit", r));
  s.child.kill("SIGTERM");
  await exited;
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

interface HttpScenario {
  readonly name: string;
  readonly env: Record<string, string>;
  readonly sizes: Sizes;
  readonly count: number;
  readonly honest: boolean;
  /** Aggregator processes sharing the store (PostgreSQL only); the load is spread over them. */
  readonly processes?: number;
}

async function httpThroughput(): Promise<string[]> {
  const sk = secp256k1.utils.randomSecretKey();
  const allow = publicKeyHex(sk);
  const threads = String(Math.max(1, Math.min(4, cpus().length - 1)));
  const cluster = postgresUnavailable() === null ? await startPgCluster() : undefined;
  const pg = (name: string, processes: number): HttpScenario[] => cluster
    ? [{ name, env: { AUDIT_RATE: "0", DATABASE_URL: cluster.newDatabase() }, sizes: { m: 256, n: 256, k: 256, batch: 1 }, count: 6000, honest: false, processes }]
    : [];
  const scenarios: HttpScenario[] = [
    { name: "AUDIT_RATE=0, embedded store on its own thread (default)", env: { AUDIT_RATE: "0" }, sizes: { m: 256, n: 256, k: 256, batch: 1 }, count: 6000, honest: false },
    { name: "AUDIT_RATE=0, embedded store inline (EMBEDDED_DB_THREAD=0)", env: { AUDIT_RATE: "0", EMBEDDED_DB_THREAD: "0" }, sizes: { m: 256, n: 256, k: 256, batch: 1 }, count: 6000, honest: false },
    ...pg("AUDIT_RATE=0, PostgreSQL, 1 aggregator", 1),
    ...pg("AUDIT_RATE=0, PostgreSQL, 2 aggregators", 2),
    { name: "AUDIT_RATE=1, 64³, main thread", env: { AUDIT_RATE: "1", AUDIT_THREADS: "0" }, sizes: { m: 64, n: 64, k: 64, batch: 1 }, count: 600, honest: true },
    { name: `AUDIT_RATE=1, 64³, ${threads} audit thread(s)`, env: { AUDIT_RATE: "1", AUDIT_THREADS: threads }, sizes: { m: 64, n: 64, k: 64, batch: 1 }, count: 600, honest: true },
    { name: "AUDIT_RATE=1, 256³, main thread", env: { AUDIT_RATE: "1", AUDIT_THREADS: "0" }, sizes: { m: 256, n: 256, k: 256, batch: 1 }, count: 60, honest: true },
    { name: `AUDIT_RATE=1, 256³, ${threads} audit thread(s)`, env: { AUDIT_RATE: "1", AUDIT_THREADS: threads }, sizes: { m: 256, n: 256, k: 256, batch: 1 }, count: 60, honest: true },
  ];
  const only = process.env.BENCH_HTTP_ONLY ? new RegExp(process.env.BENCH_HTTP_ONLY) : null;
  const rows: string[] = [];
  for (const s of scenarios.filter((x) => !only || only.test(x.name))) {
    const servers: Server[] = [];
    try {
      for (let i = 0; i < (s.processes ?? 1); i++) servers.push(await startCli({ ALLOWED_KEYS: allow, ...s.env }));
      const ch = await challengeOf(servers[0]!.url);
      const bodies = makeReceipts(sk, ch, s.sizes, s.count, s.honest);
      const r = await load(servers.map((x) => x.url), bodies);
      if (r.accepted !== s.count) throw new Error(`${s.name}: only ${r.accepted} of ${s.count} accepted`);
      rows.push(`| ${s.name} | ${sizeName(s.sizes)} | ${s.count} | ${fmt(r.perSecond)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} |`);
    } finally {
      for (const x of servers) await stopCli(x);
    }
  }
  cluster?.stop();
  return [
    ...(cluster ? [] : [`(PostgreSQL rows skipped: ${postgresUnavailable()})`, ""]),
    "| POST /verify over HTTP (32 concurrent, keep-alive; load generator on the same 2 cores) | sizes | receipts | receipts/s | p50 ms | p99 ms |",
    "|---|---|---:|---:|---:|---:|",
    ...rows,
  ];
}

const started = performance.now();
const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
console.log(`tops-aggregator verify benchmark — Node ${process.version}, ${cpus().length} × ${cpu}\n`);
const sections = (process.env.BENCH_SECTIONS ?? "signatures,audits,http").split(",");
if (sections.includes("signatures")) console.log(signatureRates().join("\n"), "\n");
if (sections.includes("audits")) console.log((await auditCosts()).join("\n"), "\n");
if (sections.includes("http")) console.log((await httpThroughput()).join("\n"), "\n");
console.log(`(${fmt((performance.now() - started) / 1000, 1)} s)`);
