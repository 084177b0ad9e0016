/**
 * Audits under attack and under failure, with real processes (issue 9):
 *  - a 4096³ × 16 receipt committing to fake rows, sent while an honest worker runs: the fake is
 *    refused within its deadline, and every honest receipt is accepted, none lost;
 *  - SIGTERM with heavy audits queued stops within its bound and stores nothing half-done;
 *  - the aggregator killed (SIGKILL) repeatedly with every receipt audited: every receipt the
 *    worker signed is in the ledger exactly once, and the worker counted exactly those as accepted.
 */
import { randomBytes } from "node:crypto";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import {
  bytesToHex, MerkleTree, openRows, publicKeyHex, rowLeaf, secretKeyFromHex, serializeOpenings, serializeReceipt, signReceipt,
  type AuditRequest, type Sizes,
} from "@tops/protocol";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, jsonLines, startAggregator, startWorker, storedReceipts, waitFor, type Aggregator } from "./harness";

const stoppers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const stop of stoppers.reverse()) await stop();
});

/** What the aggregator stored, or nothing while it is down. */
const ledger = async (url: string): Promise<{ seq: number; receipt: { nonce: number } }[]> => storedReceipts(url).catch(() => []);

async function post(url: string, body: string): Promise<{ status: number; body: { audit?: AuditRequest; error?: { code: string } } }> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
  return { status: res.status, body: (await res.json()) as { audit?: AuditRequest; error?: { code: string } } };
}

/**
 * A forger's receipt at the largest sizes the aggregator takes: it commits (with a valid tree) to
 * rows it never computed, all zero, and can therefore open any row it is asked for.
 */
function fakeWork(sk: Uint8Array, challenge: { epoch_id: number; prev_hash_hex: string }, nonce: number, sizes: Sizes) {
  const rows = sizes.batch * sizes.m;
  const zero = new Uint8Array(sizes.n);
  const leaves = new Uint8Array(rows * 32);
  for (let r = 0; r < rows; r++) leaves.set(rowLeaf(sizes, r, zero), r * 32);
  const tree = MerkleTree.fromLeaves(leaves);
  const receipt = signReceipt({
    device_did: "did:test:forger", epoch_id: challenge.epoch_id, prev_hash_hex: challenge.prev_hash_hex, nonce,
    work_root_hex: bytesToHex(tree.root), sizes, time_ms: 1, kernel_ver: "fake", driver_hint: "fake",
  }, sk);
  const open = (audit: AuditRequest): string => serializeOpenings({ audit_id: audit.audit_id, receipt, openings: openRows(tree, audit.rows, () => zero) });
  return { receipt, open };
}

/** What the worker counted as accepted: its attempts accepted at once, and spooled receipts accepted later. */
function acceptedByWorker(output: string): number[] {
  const events = jsonLines(output);
  const direct = events.filter((e) => e.event === "accepted").map((e) => e.nonce as number);
  const later = events.filter((e) => e.event === "resubmitted" && e.outcome === "accepted").map((e) => e.nonce as number);
  if (later.some((n) => typeof n !== "number")) throw new Error("a resubmitted event without its nonce");
  return [...direct, ...later];
}

describe("a huge fake receipt while an honest worker runs", () => {
  it("the fake is refused within its deadline, every honest receipt is accepted, none lost", async () => {
    const honestHex = randomBytes(32).toString("hex");
    const forgerSk = secp256k1.utils.randomSecretKey();
    const aggregator = await startAggregator({
      ALLOWED_KEYS: `${publicKeyHex(secretKeyFromHex(honestHex))},${publicKeyHex(forgerSk)}`, AUDIT_RATE: "1", AUDIT_THREADS: "1",
      MAX_DIM: "4096", MAX_BATCH: "16", AUDIT_TIMEOUT_MS: "20000", EPOCH_SECONDS: "600",
    });
    stoppers.push(() => aggregator.proc.stop());
    const challenge = (await (await fetch(`${aggregator.url}/challenge`)).json()) as { epoch_id: number; prev_hash_hex: string };
    const fake = fakeWork(forgerSk, challenge, 1, { m: 4096, n: 4096, k: 4096, batch: 16 });
    const worker = await startWorker({ WORKER_SK_HEX: honestHex, AGGREGATOR_URL: `${aggregator.url}/verify`, MAX_ATTEMPTS: "40", RATE_LIMIT: "8" });
    stoppers.push(() => worker.proc.stop());
    await waitFor("the honest worker under way", async () => (await ledger(aggregator.url)).length >= 2, 30_000, 100);
    const sent = Date.now();
    const first = await post(`${aggregator.url}/verify`, serializeReceipt(fake.receipt));
    expect(first.status).toBe(202);
    const answer = await post(`${aggregator.url}/audit`, fake.open(first.body.audit!));
    const answeredAfterMs = Date.now() - sent;
    expect([answer.status, answer.body.error?.code]).toEqual([422, "WORK_ROOT_MISMATCH"]);
    expect(Date.now()).toBeLessThan(first.body.audit!.expires_at);

    expect(await worker.proc.exited).toBe(0);
    const events = jsonLines(worker.proc.output());
    const signed = events.filter((e) => e.event === "signed").map((e) => e.nonce as number);
    const failed = events.filter((e) => e.event === "failed");
    expect(failed).toEqual([]);
    expect(signed).toHaveLength(40);
    const stored = (await ledger(aggregator.url)).map((l) => l.receipt.nonce).sort();
    expect(stored).toEqual([...signed].sort());
    expect(acceptedByWorker(worker.proc.output()).sort()).toEqual([...signed].sort());
    console.log(`4096³×16 fake refused ${answeredAfterMs} ms after it was sent; the honest worker's 40 receipts all accepted`);
  }, 180_000);
});

describe("stopping with audits queued", () => {
  it("SIGTERM exits 0 within the 10 s grace (plus start-up slack), and the ledger holds only whole lines", async () => {
    const sk = secp256k1.utils.randomSecretKey();
    const aggregator = await startAggregator({ AUDIT_RATE: "1", AUDIT_THREADS: "1", MAX_DIM: "4096", MAX_BATCH: "16", EPOCH_SECONDS: "600", QUARANTINE_SECONDS: "0" });
    const challenge = (await (await fetch(`${aggregator.url}/challenge`)).json()) as { epoch_id: number; prev_hash_hex: string };
    // 24 audits 4096 wide for one thread: more row checks queued than the 10 s grace (≈ 1 s each here).
    const sizes: Sizes = { m: 64, n: 4096, k: 4096, batch: 1 };
    const fakes = Array.from({ length: 24 }, (_, i) => fakeWork(sk, challenge, i + 1, sizes));
    const requests = await Promise.all(fakes.map((f) => post(`${aggregator.url}/verify`, serializeReceipt(f.receipt))));
    const inFlight = fakes.map((f, i) => post(`${aggregator.url}/audit`, f.open(requests[i]!.body.audit!)).catch(() => ({ status: 0, body: {} })));
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = Date.now();
    const code = await aggregator.proc.stop("SIGTERM");
    const stopMs = Date.now() - t0;
    expect(code).toBe(0);
    expect(stopMs).toBeLessThan(14_000);
    const answers = await Promise.all(inFlight);
    // Refused (mismatch) or cut off by the stop (503 / connection closed): never stored.
    for (const a of answers) expect([0, 422, 503]).toContain(a.status);
    const again = await startAggregator({ EPOCH_SECONDS: "600" }, aggregator.dataDir);
    try {
      expect(await storedReceipts(again.url)).toEqual([]);
    } finally {
      await again.proc.stop();
    }
  }, 120_000);
});

describe("the aggregator killed repeatedly, every receipt audited", () => {
  it("every signed receipt is in the ledger exactly once, and the worker counted exactly those as accepted", async () => {
    const skHex = randomBytes(32).toString("hex");
    const port = await freePort();
    const env = { ALLOWED_KEYS: publicKeyHex(secretKeyFromHex(skHex)), AUDIT_RATE: "1", EPOCH_SECONDS: "600" };
    let aggregator: Aggregator = await startAggregator(env, undefined, port);
    const dataDir = aggregator.dataDir;
    stoppers.push(() => aggregator.proc.stop());
    const worker = await startWorker({
      WORKER_SK_HEX: skHex, AGGREGATOR_URL: `${aggregator.url}/verify`, MAX_ATTEMPTS: "60", RATE_LIMIT: "10",
      MAX_RETRIES: "1", BREAKER_THRESHOLD: "2", BREAKER_COOLDOWN_MS: "300",
    });
    stoppers.push(() => worker.proc.stop());

    for (let kill = 0; kill < 3; kill++) {
      const before = (await ledger(aggregator.url)).length;
      await waitFor("more receipts stored", async () => (await ledger(aggregator.url)).length >= before + 4, 60_000, 100);
      await aggregator.proc.stop("SIGKILL");
      await new Promise((r) => setTimeout(r, 400 + 300 * kill));
      aggregator = await startAggregator(env, dataDir, port);
    }

    expect(await worker.proc.exited).toBe(0);
    const events = jsonLines(worker.proc.output());
    const signed = events.filter((e) => e.event === "signed").map((e) => e.nonce as number);
    expect(signed).toHaveLength(60);
    const stored = (await ledger(aggregator.url)).map((l) => l.receipt.nonce);
    const counts = new Map<number, number>();
    for (const n of stored) counts.set(n, (counts.get(n) ?? 0) + 1);
    for (const n of signed) expect(counts.get(n), `nonce ${n} in the ledger`).toBe(1);
    expect(stored).toHaveLength(signed.length);
    expect(acceptedByWorker(worker.proc.output()).sort()).toEqual([...stored].sort());
  }, 240_000);
});
