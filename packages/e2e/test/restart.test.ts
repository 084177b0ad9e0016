/**
 * The aggregator is killed (SIGKILL) and restarted mid-run, on the embedded database and on
 * PostgreSQL: every receipt the worker signed must end up in the ledger exactly once (spooled
 * while it was down, resubmitted after).
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { publicKeyHex, secretKeyFromHex } from "@tops/protocol";
import { fileResources, freePort, getText, jsonLines, sampleValue, startAggregator, startWorker, storedReceipts, tempDir, waitFor, type Aggregator } from "./harness";

const { unavailable, newDatabase, stopAfterAll } = fileResources();

const engines = [
  { name: "embedded database", skip: false, store: (): Record<string, string> => ({}) },
  { name: `PostgreSQL${unavailable ? ` (skipped: ${unavailable})` : ""}`, skip: unavailable !== null, store: (): Record<string, string> => ({ DATABASE_URL: newDatabase() }) },
];

for (const engine of engines) {
  describe.skipIf(engine.skip)(`aggregator restart mid-run, on the ${engine.name}`, () => {
    it("loses no signed receipt and records none twice", async () => {
      const skHex = randomBytes(32).toString("hex");
      const port = await freePort();
      // A kill between a 202 and its openings leaves the worker retrying them until the audit's
      // deadline, and only then spooling the receipt: a short AUDIT_TIMEOUT_MS keeps that well
      // inside the wait for a spooled receipt below (at the default 30 s the two raced).
      const env = { ALLOWED_KEYS: publicKeyHex(secretKeyFromHex(skHex)), AUDIT_RATE: "1", AUDIT_TIMEOUT_MS: "5000", EPOCH_SECONDS: "600", ...engine.store() };
      const dataDir = tempDir("restart");
      let aggregator: Aggregator = await startAggregator(env, dataDir, port);
      stopAfterAll(() => aggregator.proc.stop());
      const worker = await startWorker({
        WORKER_SK_HEX: skHex, AGGREGATOR_URL: `${aggregator.url}/verify`, MAX_ATTEMPTS: "40", RATE_LIMIT: "8",
        MAX_RETRIES: "1", BREAKER_THRESHOLD: "2", BREAKER_COOLDOWN_MS: "300",
      });
      stopAfterAll(() => worker.proc.stop());

      await waitFor("some accepted receipts", async () => sampleValue(await getText(`${worker.metricsUrl}/prometheus`), "tops_worker_successful_attempts_total") >= 5);
      await aggregator.proc.stop("SIGKILL");
      await waitFor("a receipt spooled while the aggregator is down", async () => {
        if (worker.proc.child.exitCode !== null) throw new Error(`worker exited early (${worker.proc.child.exitCode}/${worker.proc.child.signalCode}): ${worker.proc.output().slice(-1500)}`);
        return sampleValue(await getText(`${worker.metricsUrl}/prometheus`), "tops_worker_receipts_queued") >= 1;
      }, 30_000);
      aggregator = await startAggregator(env, dataDir, port);

      expect(await worker.proc.exited).toBe(0);
      const events = jsonLines(worker.proc.output());
      const signed = events.filter((e) => e.event === "signed").map((e) => e.nonce as number);
      expect(signed).toHaveLength(40);
      expect(events.some((e) => e.event === "spooled")).toBe(true);

      const ledger = (await storedReceipts(aggregator.url)).map((r) => r.receipt.nonce);
      const counts = new Map<number, number>();
      for (const n of ledger) counts.set(n, (counts.get(n) ?? 0) + 1);
      for (const n of signed) expect(counts.get(n), `nonce ${n} in the ledger`).toBe(1);
      expect([...counts.values()].every((c) => c === 1)).toBe(true);
      expect([...ledger].sort()).toEqual([...signed].sort());
    });
  });
}
