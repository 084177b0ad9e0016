/**
 * One load process of the benchmark. Opens ENGINE (jsonl | sqlite[-thread] | pglite[-thread] | postgres), prepares COUNT
 * distinct receipts, warms up with WARMUP others, prints "ready", waits for a line on stdin, accepts them with CONCURRENCY in
 * flight, and prints one JSON line: {startMs, endMs, eventLoopBusy, latenciesMs}.
 */
import { randomBytes } from "node:crypto";
import { writeSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Receipt } from "@tops/protocol";
import { openStore } from "../src";
import { JsonlBaseline } from "./jsonl-baseline";

const engine = process.env.ENGINE;
const count = Number(process.env.COUNT);
const concurrency = Number(process.env.CONCURRENCY);
const dataDir = process.env.STORE_DATA_DIR ?? "";
const hex = (n: number): string => randomBytes(n).toString("hex");

const keys = Array.from({ length: 64 }, () => `02${hex(32)}`);
const receipts: Receipt[] = Array.from({ length: count }, (_, i) => ({
  device_did: `did:bench:${i % 64}`, epoch_id: 29_925_498, prev_hash_hex: hex(32), nonce: i, work_root_hex: hex(32),
  sizes: { m: 256, n: 256, k: 256, batch: 1 }, time_ms: 41, kernel_ver: "int8-gemm/2", driver_hint: "bench",
  sig_hex: hex(64), pubkey_hex: keys[i % 64] ?? "", protocol_version: 2,
}));

type Accept = (r: Receipt, wire: string) => Promise<unknown>;
let accept: Accept;
let close: () => Promise<void>;
if (engine === "jsonl") {
  const ledger = await JsonlBaseline.open(join(dataDir, "ledger.jsonl"));
  accept = (r, wire) => ledger.accept(r, wire, Date.now(), false);
  close = () => ledger.close();
} else {
  const store = await openStore({
    dataDir,
    databaseUrl: engine === "postgres" ? process.env.DATABASE_URL : undefined,
    poolSize: concurrency,
    embeddedEngine: engine?.startsWith("pglite") ? "pglite" : "sqlite",
    embeddedThread: engine?.endsWith("-thread") === true,
  });
  accept = async (r, wire) => {
    const o = await store.accept(r, wire, { audited: false, acceptedAt: Date.now(), ops: 33_554_432 });
    if (o.kind !== "stored") throw new Error(`not stored: ${o.kind}`);
  };
  close = () => store.close();
}
const wires = receipts.map((r) => JSON.stringify(r));

// Warm up (JIT, WASM tier-up, connections) with receipts of another epoch, untimed: the table
// measures a running aggregator, not its first second.
const WARMUP = Number(process.env.WARMUP ?? 1000);
for (let done = 0; done < WARMUP; done += concurrency) {
  await Promise.all(
    Array.from({ length: concurrency }, (_, j) => {
      const r: Receipt = { ...(receipts[0] as Receipt), epoch_id: 1, nonce: done + j, sig_hex: hex(64) };
      return accept(r, JSON.stringify(r));
    }),
  );
}

writeSync(1, "ready\n");
for await (const _ of createInterface({ input: process.stdin })) break;

const latencies: number[] = [];
let next = 0;
const startMs = performance.timeOrigin + performance.now();
const eluStart = performance.eventLoopUtilization();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++;
      const t = performance.now();
      await accept(receipts[i] as Receipt, wires[i] as string);
      latencies.push(performance.now() - t);
    }
  }),
);
const endMs = performance.timeOrigin + performance.now();
// Share of the timed window this process's event loop was busy: what an HTTP server on it would lose.
const eventLoopBusy = performance.eventLoopUtilization(eluStart).utilization;
writeSync(1, `${JSON.stringify({ startMs, endMs, eventLoopBusy, latenciesMs: latencies })}\n`);
await close();
process.exit(0);
