/**
 * pnpm --filter @tops/store bench (second part): CPU of one accept statement on the embedded
 * engine (PGlite, durable: each statement is a commit with its WAL sync), by batch size, sent
 * three ways side by side in one database:
 *  - as SQL text through PGlite's query(), as the store did before: parsed and planned again
 *    at every batch, six calls into Postgres per statement;
 *  - as `SELECT … FROM accept_receipts($1)` through query(): the same statement in a PL/pgSQL
 *    function whose plan is cached for the session (migration 0003);
 *  - that, through the backend's own statements (what the store does now): prepared once,
 *    one round trip per call (EmbeddedBackend.execute).
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

type Run = (text: string, params: readonly unknown[]) => Promise<readonly unknown[]>;
const viaQuery: Run = async (text, params) => (await backend.pglite.query(text, [...params])).rows;
const viaBackend: Run = (text, params) => backend.sql.query(text, params);

/** CPU ms per statement over `statements` statements of `size` rows (every row must be stored). */
async function cpuPerStatement(run: Run, text: string, size: number, statements: number): Promise<number> {
  const params = Array.from({ length: statements }, () => batch(size)); // built before timing
  const before = process.cpuUsage();
  for (const p of params) {
    const rows = await run(text, [p]);
    if (rows.length !== size) throw new Error(`stored ${rows.length} of ${size}`);
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / statements;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const fmt = (n: number, digits: number): string => n.toFixed(digits);

try {
  const ways = [
    { name: "query(), SQL text", run: viaQuery, text: AS_TEXT },
    { name: "query(), accept_receipts()", run: viaQuery, text: AS_FUNCTION },
    { name: "backend, accept_receipts()", run: viaBackend, text: AS_FUNCTION },
  ];
  const results = new Map<string, number[]>();
  for (const size of BATCH_SIZES) {
    const statements = Math.max(10, Math.round(RECEIPTS_PER_RUN / size));
    for (const w of ways) await cpuPerStatement(w.run, w.text, size, 10); // warm-up: V8 tiers the WASM up, plans get cached
    for (let r = 0; r < REPEATS; r++) {
      for (const w of ways) {
        const key = `${w.name}|${size}`;
        results.set(key, [...(results.get(key) ?? []), await cpuPerStatement(w.run, w.text, size, statements)]);
      }
    }
  }
  console.log(`\nOne accept statement on the embedded engine (each a commit with its WAL sync): CPU of this process, ${REPEATS} interleaved repeats of ≈${RECEIPTS_PER_RUN} receipts.\n`);
  const cell = (xs: readonly number[]): string => `${fmt(Math.min(...xs), 2)} / ${fmt(median(xs), 2)}`;
  console.log(`| receipts per statement | ${ways.map((w) => `${w.name}: ms / statement (min / median)`).join(" | ")} | ms / receipt (medians) | now vs before |`);
  console.log(`|---:|${ways.map(() => "---:|").join("")}---:|---:|`);
  for (const size of BATCH_SIZES) {
    const cols = ways.map((w) => results.get(`${w.name}|${size}`) ?? []);
    const first = median(cols[0] ?? []);
    const last = median(cols.at(-1) ?? []);
    console.log(
      `| ${size} | ${cols.map(cell).join(" | ")} | ${cols.map((c) => fmt(median(c) / size, 3)).join(" → ")} | ${fmt(last / first, 2)}× |`,
    );
  }
} finally {
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
}
