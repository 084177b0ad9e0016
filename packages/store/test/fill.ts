/**
 * Fills a store with `rows` synthetic receipts using generate_series in SQL (not one by one; on
 * SQLite, one prepared statement in one transaction),
 * shaped like a long-running aggregator's database: 1,000 keys, realistic receipt JSON. The
 * unique constraints and indexes are dropped during the bulk insert and rebuilt after it (a
 * sorted build is far faster than a million random b-tree inserts), so the schema is the same.
 */
import { createHash } from "node:crypto";
import type { ReceiptStore } from "../src";
import { SqlReceiptStore } from "../src/receipt-store";
import { SqliteReceiptStore } from "../src/sqlite";

export const FILL_T0 = 1_767_225_600_000;
export const FILL_KEYS = 1000;

const md5 = (s: string): string => createHash("md5").update(s).digest("hex");
/** The key, nonce and sig of synthetic row i (the same expressions as the SQL below). */
export const fillKey = (i: number): string => `02${md5(String(i % FILL_KEYS))}${md5(`k${i % FILL_KEYS}`)}`;
export const fillSig = (i: number): string => md5(String(i)).repeat(4);

/**
 * SQLite has no md5() or generate_series with arrays: the same rows, made here, inserted by one
 * prepared statement, 50,000 per transaction with a turn of the event loop between them (a
 * test runner's worker must keep answering). The two query indexes are dropped meanwhile and
 * rebuilt after (the unique constraints of a SQLite table cannot be dropped).
 */
async function fillSqlite(store: SqliteReceiptStore, rows: number): Promise<void> {
  const db = store.database;
  const keys = Array.from({ length: FILL_KEYS }, (_, j) => fillKey(j));
  db.exec("DROP INDEX receipts_key_seq; DROP INDEX receipts_accepted_at;");
  const cacheSize: unknown = db.pragma("cache_size", { simple: true });
  db.pragma("cache_size = -524288"); // 512 MiB while filling: the unique indexes' random inserts stay in memory
  const insert = db.prepare(
    "INSERT INTO receipts (accepted_at, pubkey_hex, epoch_id, nonce, sig_hex, device_did, audited, ops, receipt_json) VALUES (?, ?, ?, ?, ?, ?, ?, 33554432, ?)",
  );
  const insertRange = db.transaction((from: number, to: number) => {
    for (let i = from; i <= to; i++) {
      const k = keys[i % FILL_KEYS] as string;
      const s = fillSig(i);
      const d = `did:bench:${i % FILL_KEYS}`;
      const epoch = Math.floor(i / 1000);
      const json = `{"device_did":"${d}","epoch_id":${epoch},"prev_hash_hex":"${s.slice(0, 64)}","nonce":${i},"work_root_hex":"${s.slice(64, 128)}","sizes":{"m":256,"n":256,"k":256,"batch":1},"time_ms":41,"kernel_ver":"int8-gemm/2","driver_hint":"bench","sig_hex":"${s}","pubkey_hex":"${k}","protocol_version":2}`;
      insert.run(FILL_T0 + i, k, epoch, i, s, d, i % 20 === 0 ? 1 : 0, json);
    }
  });
  for (let from = 1; from <= rows; from += 50_000) {
    insertRange(from, Math.min(rows, from + 49_999));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  db.exec("CREATE INDEX receipts_key_seq ON receipts (pubkey_hex, seq); CREATE INDEX receipts_accepted_at ON receipts (accepted_at);");
  db.pragma(`cache_size = ${Number(cacheSize)}`);
  db.transaction(() => {
    db.prepare("UPDATE receipt_counts SET n = (SELECT count(*) FROM receipts) WHERE id = 1").run();
    db.prepare(
      `INSERT INTO device_totals (pubkey_hex, device_did, receipts, ops, first_seen, last_seen)
       SELECT pubkey_hex, device_did, count(*), printf('%039d', sum(ops)), min(accepted_at), max(accepted_at) FROM receipts GROUP BY 1, 2`,
    ).run();
  })();
}

export async function fillReceipts(store: ReceiptStore, rows: number): Promise<void> {
  if (store instanceof SqliteReceiptStore) return fillSqlite(store, rows);
  if (!(store instanceof SqlReceiptStore)) throw new TypeError("not a SqlReceiptStore");
  await store.importBackend.write(async (tx) => {
    await tx.query(`ALTER TABLE receipts DROP CONSTRAINT receipts_attempt_unique, DROP CONSTRAINT receipts_signature_unique`);
    await tx.query(`DROP INDEX receipts_key_seq, receipts_accepted_at`);
    await tx.query(
      `WITH keys AS (
         SELECT array_agg('02' || md5(j::text) || md5('k' || j) ORDER BY j) AS k FROM generate_series(0, ${FILL_KEYS - 1}) AS j
       )
       INSERT INTO receipts (accepted_at, pubkey_hex, epoch_id, nonce, sig_hex, device_did, audited, ops, receipt_json)
       SELECT $1::bigint + i, k, i / 1000, i, s, d, i % 20 = 0, 33554432,
              '{"device_did":"' || d || '","epoch_id":' || (i / 1000) || ',"prev_hash_hex":"' || substr(s, 1, 64) || '","nonce":' || i
              || ',"work_root_hex":"' || substr(s, 65, 64) || '","sizes":{"m":256,"n":256,"k":256,"batch":1},"time_ms":41,"kernel_ver":"int8-gemm/2","driver_hint":"bench","sig_hex":"'
              || s || '","pubkey_hex":"' || k || '","protocol_version":2}'
         FROM (SELECT i, (SELECT k FROM keys)[i % ${FILL_KEYS} + 1] AS k, repeat(md5(i::text), 4) AS s, 'did:bench:' || (i % ${FILL_KEYS}) AS d
                 FROM generate_series(1, $2::integer) AS i) AS g`,
      [FILL_T0, rows],
    );
    await tx.query(`ALTER TABLE receipts ADD CONSTRAINT receipts_attempt_unique UNIQUE (pubkey_hex, epoch_id, nonce), ADD CONSTRAINT receipts_signature_unique UNIQUE (sig_hex)`);
    await tx.query(`CREATE INDEX receipts_key_seq ON receipts (pubkey_hex, seq)`);
    await tx.query(`CREATE INDEX receipts_accepted_at ON receipts (accepted_at)`);
    await tx.query("UPDATE receipt_counts SET n = (SELECT count(*) FROM receipts) WHERE shard = 0");
    await tx.query(
      `INSERT INTO device_totals (pubkey_hex, device_did, receipts, ops, first_seen, last_seen)
       SELECT pubkey_hex, device_did, count(*), sum(ops), min(accepted_at), max(accepted_at) FROM receipts GROUP BY 1, 2`,
    );
  });
}
