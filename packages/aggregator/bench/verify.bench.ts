/**
 * `pnpm --filter @tops/aggregator bench`: what one aggregator can take, to choose AUDIT_RATE.
 *
 *  1. Raw signature verification in this process: @noble/curves vs node:crypto (OpenSSL), the
 *     bare ECDSA check and the whole per-receipt check (payload hashing included).
 *  2. Audit cost by size: one reference recomputation on one core.
 *  3. POST /verify throughput over real HTTP against the real CLI in a child process
 *     (keep-alive, 32 concurrent requests), without audits and with every receipt audited.
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
  assertReceiptSignature, bytesToHex, deriveSeed, hexToBytes, parseReceipt, publicKeyHex, referenceWorkRoot, serializeReceipt, signReceipt,
  signingPayload, utf8, type Receipt, type Sizes,
} from "@tops/protocol";
import { NodeSignatureVerifier, publicKeyObject, referenceAuditWorkRoot, type Challenge } from "../src/index";

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

const AUDIT_SIZES: Sizes[] = [
  { m: 64, n: 64, k: 64, batch: 1 },
  { m: 128, n: 128, k: 128, batch: 1 },
  { m: 256, n: 256, k: 256, batch: 1 },
  { m: 512, n: 512, k: 512, batch: 1 },
];

function auditCosts(): string[] {
  const rows = AUDIT_SIZES.map((sizes) => {
    const attempt = { prevHash: new Uint8Array(32).fill(1), deviceDid: "did:bench:1", nonce: 0, sizes };
    referenceAuditWorkRoot(attempt); // weights cache, JIT
    const reps = sizes.m >= 512 ? 2 : sizes.m >= 256 ? 6 : 30;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) referenceAuditWorkRoot({ ...attempt, nonce: i + 1 });
    const ms = (performance.now() - t0) / reps;
    const ops = 2 * sizes.batch * sizes.m * sizes.n * (sizes.k + sizes.n);
    return `| ${sizeName(sizes)} | ${fmt(ms, 2)} | ${fmt(1000 / ms, 1)} | ${fmt(ops / ms / 1e6, 2)} |`;
  });
  return ["| attempt sizes | ms per audit (one core) | audits/s per thread | int8 Gops/s |", "|---|---:|---:|---:|", ...rows];
}

// ---------- 3. HTTP ----------

interface Server {
  readonly child: ChildProcess;
  readonly url: string;
}

async function startCli(env: Record<string, string>): Promise<Server> {
  const child = spawn(tsx, [join(packageDir, "src", "cli.ts")], {
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

function makeReceipts(sk: Uint8Array, ch: Challenge, sizes: Sizes, count: number, honest: boolean): string[] {
  const did = "did:bench:1";
  return Array.from({ length: count }, (_, nonce) => {
    const workRoot = honest ? bytesToHex(referenceWorkRoot(deriveSeed({ prevHash: hexToBytes(ch.prev_hash_hex), deviceDid: did, nonce }), sizes)) : "ef".repeat(32);
    const receipt: Receipt = signReceipt({
      device_did: did, epoch_id: ch.epoch_id, prev_hash_hex: ch.prev_hash_hex, nonce, work_root_hex: workRoot, sizes,
      time_ms: 1, kernel_ver: "ts-ref/1", driver_hint: "bench",
    }, sk);
    return serializeReceipt(receipt);
  });
}

function post(agent: Agent, url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/verify`, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function load(url: string, bodies: string[], concurrency = 32): Promise<{ perSecond: number; p50: number; p99: number; accepted: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let accepted = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const started = performance.now();
      if ((await post(agent, url, body)) === 200) accepted++;
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
}

async function httpThroughput(): Promise<string[]> {
  const sk = secp256k1.utils.randomSecretKey();
  const allow = publicKeyHex(sk);
  const threads = String(Math.max(1, Math.min(4, cpus().length - 1)));
  const scenarios: HttpScenario[] = [
    { name: "AUDIT_RATE=0", env: { AUDIT_RATE: "0" }, sizes: { m: 256, n: 256, k: 256, batch: 1 }, count: 6000, honest: false },
    { name: "AUDIT_RATE=1, 64³, main thread", env: { AUDIT_RATE: "1", AUDIT_THREADS: "0" }, sizes: { m: 64, n: 64, k: 64, batch: 1 }, count: 600, honest: true },
    { name: `AUDIT_RATE=1, 64³, ${threads} audit thread(s)`, env: { AUDIT_RATE: "1", AUDIT_THREADS: threads }, sizes: { m: 64, n: 64, k: 64, batch: 1 }, count: 600, honest: true },
    { name: "AUDIT_RATE=1, 256³, main thread", env: { AUDIT_RATE: "1", AUDIT_THREADS: "0" }, sizes: { m: 256, n: 256, k: 256, batch: 1 }, count: 60, honest: true },
    { name: `AUDIT_RATE=1, 256³, ${threads} audit thread(s)`, env: { AUDIT_RATE: "1", AUDIT_THREADS: threads }, sizes: { m: 256, n: 256, k: 256, batch: 1 }, count: 60, honest: true },
  ];
  const rows: string[] = [];
  for (const s of scenarios) {
    const server = await startCli({ ALLOWED_KEYS: allow, ...s.env });
    try {
      const ch = await challengeOf(server.url);
      const bodies = makeReceipts(sk, ch, s.sizes, s.count, s.honest);
      const r = await load(server.url, bodies);
      if (r.accepted !== s.count) throw new Error(`${s.name}: only ${r.accepted} of ${s.count} accepted`);
      rows.push(`| ${s.name} | ${sizeName(s.sizes)} | ${s.count} | ${fmt(r.perSecond)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} |`);
    } finally {
      await stopCli(server);
    }
  }
  return ["| POST /verify over HTTP (32 concurrent, keep-alive) | sizes | receipts | receipts/s | p50 ms | p99 ms |", "|---|---|---:|---:|---:|---:|", ...rows];
}

const started = performance.now();
const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
console.log(`tops-aggregator verify benchmark — Node ${process.version}, ${cpus().length} × ${cpu}\n`);
console.log(signatureRates().join("\n"), "\n");
console.log(auditCosts().join("\n"), "\n");
console.log((await httpThroughput()).join("\n"), "\n");
console.log(`(${fmt((performance.now() - started) / 1000, 1)} s)`);
