/**
 * pnpm --filter @tops/store bench (second part): CPU of one accept statement on the embedded
 * engine (PGlite, durable: each statement is a commit with its WAL sync), by batch size, sent
 * two ways side by side in one database:
 *  - as SQL text, as before migration 0003: parsed and planned again at every batch;
 *  - as `SELECT … FROM accept_receipts($1)`, the same statement in a PL/pgSQL function whose
 *    plan is cached for the session (migration 0003).
 * CPU is this process's user + system time (PGlite runs in it, synchronously), per statement
 * and per receipt; min and median of BENCH_STATEMENT_REPEATS interleaved repeats.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedBackend } from "../src/embedded";
import { COUNT_INSERTED } from "../src/receipt-store";

/** The accept statement as the store sent it before migration 0003 (same rules as accept_receipts). */
const AS_TEXT = `
WITH inserted AS (
  INSERT INTO receipts (accepted_at, pubkey_hex, epoch_id, nonce, sig_hex, device_did, audited, ops, receipt_json)
  SELECT accepted_at, pubkey_hex, epoch_id, nonce, sig_hex, device_did, audited, ops, receipt_json
    FROM json_to_recordset($1::json) AS x(accepted_at BIGINT, pubkey_hex TEXT, epoch_id BIGINT, nonce BIGINT, sig_hex TEXT,
                                          device_did TEXT, audited BOOLEAN, ops BIGINT, receipt_json TEXT)
   WHERE NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.pubkey_hex = x.pubkey_hex AND q.until > x.accepted_at)
   ORDER BY pubkey_hex, epoch_id, nonce
  ON CONFLICT DO NOTHING
  RETURNING seq, accepted_at, pubkey_hex, device_did, ops, epoch_id, nonce, sig_hex
), ${COUNT_INSERTED}
SELECT seq, accepted_at, pubkey_hex, epoch_id, nonce, sig_hex FROM inserted`;
const AS_FUNCTION = "SELECT seq, accepted_at, pubkey_hex, epoch_id, nonce, sig_hex FROM accept_receipts($1::json)";

const REPEATS = Number(process.env.BENCH_STATEMENT_REPEATS ?? 5);
const BATCH_SIZES = [1, 14, 32, 128];
/** Receipts per measurement (rounded to whole statements). */
const RECEIPTS_PER_RUN = 1500;

const dir = mkdtempSync(join(tmpdir(), "tops-statement-bench-"));
const backend = await EmbeddedBackend.open(dir);
let nonce = 0;
// A wire receipt of the usual size (≈600 bytes of JSON), distinct per row.
const receiptJson = JSON.stringify({ device_did: "did:tops:bench", x: "ab".repeat(280) });

function batch(n: number): string {
  const rows = [];
  for (let i = 0; i < n; i++) {
    nonce++;
    rows.push({
      accepted_at: Date.now(), pubkey_hex: `02${"ab".repeat(32)}`, epoch_id: 1, nonce, sig_hex: nonce.toString(16).padStart(128, "0"),
      device_did: "did:tops:bench", audited: false, ops: "33554432", receipt_json: receiptJson,
    });
  }
  return JSON.stringify(rows);
}

/** CPU ms per statement over `statements` statements of `size` rows (every row must be stored). */
async function cpuPerStatement(text: string, size: number, statements: number): Promise<number> {
  const params = Array.from({ length: statements }, () => batch(size)); // built before timing
  const before = process.cpuUsage();
  for (const p of params) {
    const rows = await backend.sql.query(text, [p]);
    if (rows.length !== size) throw new Error(`stored ${rows.length} of ${size}`);
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / statements;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const fmt = (n: number, digits: number): string => n.toFixed(digits);

try {
  const ways = [
    { name: "SQL text (before 0003)", text: AS_TEXT },
    { name: "accept_receipts() (cached plan)", text: AS_FUNCTION },
  ];
  const results = new Map<string, number[]>();
  for (const size of BATCH_SIZES) {
    const statements = Math.max(10, Math.round(RECEIPTS_PER_RUN / size));
    for (const w of ways) await cpuPerStatement(w.text, size, 10); // warm-up: V8 tiers the WASM up, plans get cached
    for (let r = 0; r < REPEATS; r++) {
      for (const w of ways) {
        const key = `${w.name}|${size}`;
        results.set(key, [...(results.get(key) ?? []), await cpuPerStatement(w.text, size, statements)]);
      }
    }
  }
  console.log(`\nOne accept statement on the embedded engine (each a commit with its WAL sync): CPU of this process, ${REPEATS} interleaved repeats of ≈${RECEIPTS_PER_RUN} receipts.\n`);
  console.log("| receipts per statement | SQL text: ms / statement (min / median) | accept_receipts(): ms / statement (min / median) | ms / receipt: text → function | function vs text |");
  console.log("|---:|---:|---:|---:|---:|");
  for (const size of BATCH_SIZES) {
    const text = results.get(`${ways[0]!.name}|${size}`) ?? [];
    const fn = results.get(`${ways[1]!.name}|${size}`) ?? [];
    console.log(
      `| ${size} | ${fmt(Math.min(...text), 2)} / ${fmt(median(text), 2)} | ${fmt(Math.min(...fn), 2)} / ${fmt(median(fn), 2)} | ${fmt(median(text) / size, 3)} → ${fmt(median(fn) / size, 3)} | ${fmt(median(fn) / median(text), 2)}× |`,
    );
  }
} finally {
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
}
