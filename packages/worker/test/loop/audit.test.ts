/**
 * The loop answering audits of the real aggregator (in process, real HTTP), and working against a
 * stand-in of the Rust project's verifier (no /challenge; 200 {ok, sig_ok} computed the way its
 * verifier/index.js does: the whole received body with sig_hex emptied).
 */
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { blake3 } from "@noble/hashes/blake3.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { configFromEnv, startAggregator, type RunningAggregator } from "@tops/aggregator";
import { hexToBytes, publicKeyHex, type Sizes } from "@tops/protocol";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { AggregatorClient } from "../../src/aggregator-client";
import { CircuitBreaker } from "../../src/circuit-breaker";
import { createCpuEngine } from "../../src/engine";
import { WorkerLoop, type LoopEvent, type LoopMetrics } from "../../src/loop";
import { AttemptMemory, RowOpener, type RowSource } from "../../src/openings";
import { createRowKernel } from "@tops/rowkernel";
import { RateLimiter } from "../../src/rate-limiter";
import { Spool } from "../../src/spool";

const sizes: Sizes = { m: 24, n: 16, k: 12, batch: 2 };
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

function countingMetrics() {
  const m = { ok: 0, ops: 0, verifiedOps: 0, failed: [] as string[], dropped: 0, refused: [] as string[] };
  const api: LoopMetrics = {
    attemptStarted: () => undefined,
    attemptSucceeded: ({ ops }) => ((m.ok += 1), (m.ops += ops)),
    attemptFailed: ({ errorClass }) => void m.failed.push(errorClass),
    verifiedOps: (ops) => void (m.verifiedOps += ops),
    setReceiptsQueued: () => undefined,
    receiptDropped: () => void m.dropped++,
    spoolReceiptRefused: (code) => void m.refused.push(code),
  };
  return { m, api };
}

async function loopFor(verifyUrl: string, opts: { maxAttempts: number; memoryBytes?: number; secretKey?: Uint8Array; events?: LoopEvent[]; rowSource?: RowSource }) {
  const { m, api } = countingMetrics();
  const engine = createCpuEngine();
  const memory = new AttemptMemory(opts.memoryBytes ?? 1 << 20);
  const base = verifyUrl.replace(/\/verify$/, "");
  const loop = new WorkerLoop({
    memory, opener: new RowOpener(memory, engine, opts.rowSource), staticChallenge: { epochId: 1, prevHashHex: "a".repeat(64) },
    deviceDid: "did:test:audit", secretKey: opts.secretKey ?? secp256k1.utils.randomSecretKey(), maxRetries: 2,
    backoff: { baseMs: 5, maxMs: 20 }, maxAttempts: opts.maxAttempts, engine,
    sizes: { next: () => sizes, record: () => undefined },
    client: new AggregatorClient({ verifyUrl, challengeUrl: `${base}/challenge`, timeoutMs: 5000 }),
    spool: await Spool.open(mkdtempSync(join(tmpdir(), "audit-spool-")), 100),
    breaker: new CircuitBreaker({ threshold: 3, cooldownMs: 200 }),
    rateLimiter: new RateLimiter(0), metrics: api, onEvent: (e) => opts.events?.push(e),
  });
  return { loop, m };
}

async function aggregator(env: Record<string, string>): Promise<RunningAggregator> {
  const dataDir = mkdtempSync(join(tmpdir(), "audit-agg-"));
  const agg = await startAggregator(
    configFromEnv({ AGGREGATOR_HOST: "127.0.0.1", AGGREGATOR_PORT: "0", DATA_DIR: dataDir, AUDIT_THREADS: "0", ...env }),
    { logger: pino({ level: "silent" }) },
  );
  closers.push(agg.close);
  return agg;
}

/** Nonces of what the aggregator stored (GET /receipts). */
async function ledgerNonces(url: string): Promise<number[]> {
  const page = (await (await fetch(`${url}/receipts?limit=1000`)).json()) as { receipts: { receipt: { nonce: number } }[] };
  return page.receipts.map((r) => r.receipt.nonce);
}

describe("answering audits of the real aggregator", () => {
  it("every attempt is audited (AUDIT_RATE=1) and accepted: the worker opens the requested rows (rows from onnxruntime)", async () => {
    const agg = await aggregator({ AUDIT_RATE: "1", AUDIT_ROWS: "5" });
    const events: LoopEvent[] = [];
    const kernel = await createRowKernel({ backend: "onnxruntime" });
    closers.push(() => kernel.close());
    const { loop, m } = await loopFor(`${agg.url}/verify`, { maxAttempts: 6, events, rowSource: (seed, s, rows) => kernel.rows(seed, s, rows) });
    const summary = await loop.run(new AbortController().signal);
    expect(summary).toMatchObject({ attempts: 6, accepted: 6, failed: 0 });
    expect(m.failed).toEqual([]);
    const audits = events.filter((e) => e.type === "audit");
    expect(audits).toHaveLength(6);
    expect(audits.every((e) => e.type === "audit" && e.outcome === "accepted" && e.rows === 5)).toBe(true);
    expect((await ledgerNonces(agg.url))).toHaveLength(6);
  });

  it("a receipt whose leaves were not kept is recomputed by the engine to answer its audit", async () => {
    const agg = await aggregator({ AUDIT_RATE: "1" });
    const { loop } = await loopFor(`${agg.url}/verify`, { maxAttempts: 2, memoryBytes: 1 });
    expect(await loop.run(new AbortController().signal)).toMatchObject({ attempts: 2, accepted: 2 });
  });

  it("a fractional AUDIT_RATE: audited and unaudited receipts are all accepted, ops counted once each", async () => {
    const agg = await aggregator({ AUDIT_RATE: "0.5" });
    const events: LoopEvent[] = [];
    const { loop, m } = await loopFor(`${agg.url}/verify`, { maxAttempts: 12, events });
    expect(await loop.run(new AbortController().signal)).toMatchObject({ attempts: 12, accepted: 12 });
    expect(m.ops).toBe(12 * sizes.batch * (2 * sizes.m * sizes.n * sizes.k + 2 * sizes.m * sizes.n * sizes.n));
    expect((await ledgerNonces(agg.url))).toHaveLength(12);
  });
});

/** The Rust project's verifier, as its verifier/index.js behaves: no /challenge, every well-formed receipt 200 {ok, sig_ok}. */
class OriginalVerifierStandIn {
  private server: Server | undefined;
  url = "";
  readonly answers: boolean[] = [];
  constructor(private readonly verifyPubkeyHex: string) {}

  async start(): Promise<void> {
    this.server = createServer(async (req, res) => {
      let body = "";
      for await (const c of req) body += String(c);
      if (req.url !== "/verify" || req.method !== "POST") return void res.writeHead(404).end("Not Found");
      let received: Record<string, unknown>;
      try {
        received = JSON.parse(body) as Record<string, unknown>;
      } catch (e) {
        return void res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ ok: false, error: String(e) }));
      }
      const digest = sha256(blake3(new TextEncoder().encode(JSON.stringify({ ...received, sig_hex: "" }))));
      let sigOk = false;
      try {
        sigOk = secp256k1.verify(hexToBytes(String(received.sig_hex)), digest, hexToBytes(this.verifyPubkeyHex), { prehash: false });
      } catch {
        sigOk = false;
      }
      this.answers.push(sigOk);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true, sig_ok: sigOk, pubkey_hex: this.verifyPubkeyHex, digest_hex: "" }));
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
    closers.push(() => new Promise((r) => this.server!.close(() => r())));
  }
}

describe("against the Rust project's verifier", () => {
  it("works on the static challenge (said once) and its receipts verify there: sig_ok true is accepted", async () => {
    const sk = secp256k1.utils.randomSecretKey();
    const verifier = new OriginalVerifierStandIn(publicKeyHex(sk));
    await verifier.start();
    const events: LoopEvent[] = [];
    const { loop, m } = await loopFor(`${verifier.url}/verify`, { maxAttempts: 4, secretKey: sk, events });
    expect(await loop.run(new AbortController().signal)).toMatchObject({ attempts: 4, accepted: 4, failed: 0 });
    expect(verifier.answers).toEqual([true, true, true, true]);
    expect(m.ok).toBe(4);
    const notices = events.filter((e) => e.type === "static_challenge");
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ epochId: 1, prevHashHex: "a".repeat(64) });
  });

  it("sig_ok false (VERIFY_PUBKEY is another key) is a signature error, not a success", async () => {
    const verifier = new OriginalVerifierStandIn(publicKeyHex(secp256k1.utils.randomSecretKey()));
    await verifier.start();
    const { loop, m } = await loopFor(`${verifier.url}/verify`, { maxAttempts: 3 });
    expect(await loop.run(new AbortController().signal)).toMatchObject({ attempts: 3, accepted: 0, failed: 3 });
    expect(m.failed).toEqual(["signature", "signature", "signature"]);
    expect(m.ok).toBe(0);
  });
});
