/** SQL for the one-time import of the JSON-lines files (import.ts), on the store's backend. */
import type { Backend } from "./sql";
import { COUNT_INSERTED } from "./receipt-store";
import { opsParam, toSafeInteger } from "./numbers";
import type { QuarantineEntry } from "./types";

export interface ImportedReceipt {
  readonly lineNumber: number;
  readonly seq: number;
  readonly acceptedAt: number;
  readonly audited: boolean;
  readonly pubkeyHex: string;
  readonly epochId: number;
  readonly nonce: number;
  readonly sigHex: string;
  readonly deviceDid: string;
  readonly ops: number | bigint;
  readonly receiptJson: string;
}

const COLUMNS = 10;

export async function alreadyImported(backend: Backend, name: string): Promise<boolean> {
  return (await backend.sql.query("SELECT 1 AS done FROM imports WHERE name = $1", [name])).length > 0;
}

/**
 * Inserts the rows with their original seq. A row already there (an import interrupted and
 * run again) is skipped, but only when it is the same receipt at the same seq: anything else is
 * a conflict the operator must see. Returns how many rows were inserted.
 */
export async function insertImportedReceipts(backend: Backend, rows: readonly ImportedReceipt[]): Promise<number> {
  if (rows.length === 0) return 0;
  const params: unknown[] = [];
  const tuples = rows.map((r, i) => {
    params.push(r.seq, r.acceptedAt, r.pubkeyHex, r.epochId, r.nonce, r.sigHex, r.deviceDid, r.audited, opsParam(r.ops), r.receiptJson);
    return `(${Array.from({ length: COLUMNS }, (_, c) => `$${i * COLUMNS + c + 1}`).join(", ")})`;
  });
  const inserted = await backend.write(async (tx) => {
    const out = await tx.query(
      `WITH inserted AS (
         INSERT INTO receipts (seq, accepted_at, pubkey_hex, epoch_id, nonce, sig_hex, device_did, audited, ops, receipt_json)
         OVERRIDING SYSTEM VALUE VALUES ${tuples.join(", ")}
         ON CONFLICT DO NOTHING
         RETURNING seq, accepted_at, pubkey_hex, device_did, ops
       ), ${COUNT_INSERTED}
       SELECT seq FROM inserted`,
      params,
    );
    return new Set(out.map((row) => toSafeInteger(row.seq, "seq")));
  });
  for (const r of rows) {
    if (inserted.has(r.seq)) continue;
    const [held] = await backend.sql.query("SELECT seq, sig_hex FROM receipts WHERE pubkey_hex = $1 AND epoch_id = $2 AND nonce = $3", [r.pubkeyHex, r.epochId, r.nonce]);
    if (!held || toSafeInteger(held.seq, "seq") !== r.seq || held.sig_hex !== r.sigHex) {
      throw new Error(`line ${r.lineNumber} (seq ${r.seq}) conflicts with a receipt already in the database${held ? ` (seq ${String(held.seq)})` : ""}`);
    }
  }
  return inserted.size;
}

/** New accepts continue after the highest imported seq. */
export async function advanceSeq(backend: Backend): Promise<void> {
  await backend.write((tx) =>
    tx.query(`SELECT setval('receipts_seq_seq', greatest((SELECT coalesce(max(seq), 1) FROM receipts), (SELECT last_value FROM receipts_seq_seq)))`),
  );
}

/** The quarantine records and the "done" marker, in one statement (so one transaction on either engine). */
export async function finishImport(backend: Backend, name: string, receipts: number, quarantine: readonly QuarantineEntry[]): Promise<void> {
  const params: unknown[] = [name, receipts, quarantine.length, Date.now()];
  const tuples = quarantine.map((q) => {
    params.push(q.pubkeyHex, q.since, q.until, q.reason, JSON.stringify(q.evidence ?? null));
    const b = params.length - 4;
    return `($${b}, $${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}::jsonb)`;
  });
  const insertQuarantine = tuples.length > 0 ? `, q AS (INSERT INTO quarantine (pubkey_hex, since, until, reason, evidence) VALUES ${tuples.join(", ")})` : "";
  await backend.write((tx) =>
    tx.query(
      `WITH marker AS (INSERT INTO imports (name, receipts, quarantine, imported_at) VALUES ($1, $2, $3, $4))${insertQuarantine}
       SELECT 1 AS done`,
      params,
    ),
  );
}
