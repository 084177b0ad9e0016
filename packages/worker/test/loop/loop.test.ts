/**
 * The loop against a real HTTP aggregator stand-in whose /verify can be switched off and on:
 * the breaker opens and stops the hammering, receipts are spooled and later resubmitted oldest
 * first, and every outcome reaches the metrics under the right class.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytesToHex, parseReceipt, secretKeyFromHex, type Sizes } from "@tops/protocol";
import { AggregatorClient } from "../../src/aggregator-client";
import { CircuitBreaker, type BreakerState } from "../../src/circuit-breaker";
import { createCpuEngine } from "../../src/engine";
import { WorkerLoop, type LoopEvent, type LoopMetrics } from "../../src/loop";
import { AttemptMemory, RowOpener } from "../../src/openings";
import { RateLimiter } from "../../src/rate-limiter";
import { Spool } from "../../src/spool";

const sizes: Sizes = { m: 8, n: 8, k: 8, batch: 1 };

class FakeAggregator {
  mode: "up" | "down" | "reject" = "up";
  /** The prev_hash the stand-in currently accepts; receipts naming another get STALE_EPOCH. */
  prevHash = "11".repeat(32);
  challengeCalls = 0;
  verifyCalls = 0;
  readonly accepted: number[] = [];
  private server: Server | undefined;
  url = "";

  async start(): Promise<void> {
    this.server = createServer(async (req, res) => {
      let body = "";
      for await (const c of req) body += String(c);
      if (req.url === "/challenge") {
        res.writeHead(200, { "content-type": "application/json" });
        this.challengeCalls++;
        res.end(JSON.stringify({ epoch_id: 1, prev_hash_hex: this.prevHash, expires_at: Date.now() + 60_000 }));
        return;
      }
      this.verifyCalls++;
      if (this.mode === "down") return void res.writeHead(503).end();
      if (this.mode === "reject") return void res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "BAD_SIGNATURE", message: "no" } }));
      const receipt = parseReceipt(body);
      if (receipt.prev_hash_hex !== this.prevHash) {
        return void res.writeHead(422, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "STALE_EPOCH", message: "old" } }));
      }
      this.accepted.push(receipt.nonce);
      res.writeHead(200, { "content-type": "application/json" }).end('{"accepted":true}');
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server!.close(() => r()));
  }
}

function recordingMetrics() {
  const m = { started: 0, ok: 0, ops: 0, verifiedOps: 0, failed: [] as string[], queued: 0, dropped: 0, refused: [] as string[] };
  const api: LoopMetrics = {
    attemptStarted: () => void m.started++,
    attemptSucceeded: ({ ops }) => ((m.ok += 1), (m.ops += ops)),
    attemptFailed: ({ errorClass }) => void m.failed.push(errorClass),
    verifiedOps: (ops) => void (m.verifiedOps += ops),
    setReceiptsQueued: (n) => void (m.queued = n),
    receiptDropped: () => void m.dropped++,
    spoolReceiptRefused: (code) => void m.refused.push(code),
  };
  return { m, api };
}

let agg: FakeAggregator;
beforeAll(async () => {
  agg = new FakeAggregator();
  await agg.start();
});
afterAll(() => agg.close());

async function makeLoop(maxAttempts: number, breakerStates: BreakerState[], events: LoopEvent[]) {
  const { m, api } = recordingMetrics();
  const spool = await Spool.open(mkdtempSync(join(tmpdir(), "loop-spool-")), 100);
  const engine = createCpuEngine();
  const memory = new AttemptMemory(1 << 20);
  const loop = new WorkerLoop({
    memory, opener: new RowOpener(memory, engine), staticChallenge: { epochId: 1, prevHashHex: "a".repeat(64) },
    deviceDid: "did:test:loop", secretKey: secretKeyFromHex(bytesToHex(randomBytes(31)).padStart(64, "1")), maxRetries: 1,
    backoff: { baseMs: 5, maxMs: 10 }, maxAttempts, engine,
    sizes: { next: () => sizes, record: () => undefined },
    client: new AggregatorClient({ verifyUrl: `${agg.url}/verify`, challengeUrl: `${agg.url}/challenge`, timeoutMs: 2000 }),
    spool, breaker: new CircuitBreaker({ threshold: 3, cooldownMs: 300, onChange: (s) => breakerStates.push(s) }),
    rateLimiter: new RateLimiter(0), metrics: api, onEvent: (e) => events.push(e),
  });
  return { loop, m, spool };
}

describe("worker loop", () => {
  it("opens the breaker on a dead aggregator, spools, then drains oldest first when it returns", async () => {
    agg.mode = "down";
    const states: BreakerState[] = [];
    const events: LoopEvent[] = [];
    const { loop, m, spool } = await makeLoop(0, states, events);
    const stop = new AbortController();
    const running = loop.run(stop.signal);
    await new Promise((r) => setTimeout(r, 1000));
    // Without a breaker a tight loop would make hundreds of calls in a second; with it, a few per cooldown.
    expect(states).toContain("open");
    expect(agg.verifyCalls).toBeLessThan(40);
    const spooled = events.filter((e) => e.type === "spooled").map((e) => (e as { nonce: number }).nonce);
    expect(spooled.length).toBeGreaterThanOrEqual(2);
    expect(m.failed.every((c) => c === "network")).toBe(true);

    agg.mode = "up";
    await new Promise((r) => setTimeout(r, 1000));
    stop.abort();
    await running;
    expect(states.at(-1)).toBe("closed");
    expect(spool.size).toBe(0);
    expect(m.queued).toBe(0);
    // Spooled receipts were accepted in the order they were signed, before newer attempts.
    expect(agg.accepted.slice(0, spooled.length)).toEqual(spooled);
    expect(m.verifiedOps).toBeGreaterThan(0);
    expect(m.ok).toBeGreaterThan(0);
    expect(m.started).toBe(m.ok + m.failed.length);
  });

  it("a refusal is a signature or validation error, not a network one, and stops at MAX_ATTEMPTS", async () => {
    agg.mode = "reject";
    const { loop, m } = await makeLoop(3, [], []);
    const summary = await loop.run(new AbortController().signal);
    expect(summary).toMatchObject({ attempts: 3, accepted: 0, failed: 3, spooled: 0 });
    expect(m.failed).toEqual(["signature", "signature", "signature"]);
  });

  it("a spooled receipt refused on resubmission is counted as refused with its code, not silently lost", async () => {
    agg.mode = "down";
    const events: LoopEvent[] = [];
    const { loop, m, spool } = await makeLoop(0, [], events);
    const stop = new AbortController();
    const running = loop.run(stop.signal);
    await new Promise((r) => setTimeout(r, 400));
    expect(spool.size).toBeGreaterThan(0);
    agg.mode = "reject";
    await new Promise((r) => setTimeout(r, 800));
    stop.abort();
    await running;
    agg.mode = "up";
    expect(spool.size).toBe(0);
    expect(m.refused.length).toBeGreaterThan(0);
    expect(new Set(m.refused)).toEqual(new Set(["BAD_SIGNATURE"]));
    expect(events.filter((e) => e.type === "resubmitted" && e.outcome === "rejected").length).toBe(m.refused.length);
  });

  it("drops a cached challenge the aggregator refuses as stale and fetches a fresh one", async () => {
    agg.mode = "up";
    const { loop, m } = await makeLoop(0, [], []);
    const runFor = async (ms: number) => {
      const stop = new AbortController();
      const running = loop.run(stop.signal);
      await new Promise((r) => setTimeout(r, ms));
      stop.abort();
      await running;
    };
    await runFor(200);
    const okBefore = m.ok;
    const calls = agg.challengeCalls;
    agg.prevHash = "22".repeat(32); // the aggregator moved on while the worker's challenge had not expired
    await runFor(300);
    expect(m.failed).toEqual(["validation"]); // one refusal, then the fresh challenge works
    expect(agg.challengeCalls).toBe(calls + 1);
    expect(m.ok).toBeGreaterThan(okBefore);
  });
});
