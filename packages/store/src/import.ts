/**
 * One-time import of an earlier aggregator's files in DATA_DIR:
 *   ledger.jsonl      {"seq","accepted_at","audited","receipt":{…}}   (receipts keep their seq)
 *   quarantine.jsonl  {"pubkey_hex","since","until","reason","evidence"}
 *   epoch-secret      64 hex characters (so the current challenge stays valid)
 * A torn tail is truncated as the aggregator always did (logged as ledger_repaired); a damaged
 * line in the middle refuses the import. Receipts go in in batches that may be repeated safely
 * (an interrupted import is resumed by the next start); the quarantine records and the row in
 * `imports` that marks the import done share one transaction. The files are then renamed to
 * *.imported, and a later start never imports again.
 */
import { readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { isLowerHex, hexToBytes, type Receipt } from "@tops/protocol";
import type { ImportedReceipt } from "./import-rows";
import { scanJsonLines, truncateTo, type ScanReport } from "./jsonl-read";
import type { ImportTarget } from "./receipt-store";
import type { QuarantineEntry, ReceiptStore, StoreLog } from "./types";

export const LEDGER_FILE = "ledger.jsonl";
export const QUARANTINE_FILE = "quarantine.jsonl";
export const EPOCH_SECRET_FILE = "epoch-secret";
const IMPORT_NAME = "jsonl-ledger";
const BATCH = 500;

export interface ImportOptions {
  /** Verified ops to credit an imported receipt with (the ledger files did not store them). */
  readonly opsOf: (receipt: Receipt) => number | bigint;
  readonly log?: StoreLog;
}

export interface ImportReport {
  /** Receipts inserted by this call. */
  readonly receipts: number;
  readonly quarantine: number;
  /** A torn tail was cut off one of the files. */
  readonly repaired: boolean;
  /** The epoch secret file was imported (or agreed with the stored one). */
  readonly epochSecret: boolean;
  /** False when there was nothing to import or it was imported before. */
  readonly imported: boolean;
}

function isSafeInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function ledgerRow(value: unknown, lineNumber: number, opsOf: ImportOptions["opsOf"]): ImportedReceipt {
  const entry = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  const r = (typeof entry.receipt === "object" && entry.receipt !== null ? entry.receipt : {}) as Record<string, unknown>;
  if (
    !isSafeInt(entry.seq) || entry.seq < 1 || !isSafeInt(entry.accepted_at) || typeof entry.audited !== "boolean"
    || typeof r.pubkey_hex !== "string" || !isLowerHex(r.pubkey_hex, 33)
    || typeof r.sig_hex !== "string" || !isLowerHex(r.sig_hex, 64)
    || !isSafeInt(r.epoch_id) || !isSafeInt(r.nonce) || typeof r.device_did !== "string"
    || typeof r.sizes !== "object" || r.sizes === null
  ) {
    throw new Error("not a ledger entry (needs seq, accepted_at, audited and a receipt with pubkey_hex, sig_hex, epoch_id, nonce, device_did, sizes)");
  }
  const receipt = r as unknown as Receipt;
  return {
    lineNumber,
    seq: entry.seq,
    acceptedAt: entry.accepted_at,
    audited: entry.audited,
    pubkeyHex: receipt.pubkey_hex,
    epochId: receipt.epoch_id,
    nonce: receipt.nonce,
    sigHex: receipt.sig_hex,
    deviceDid: receipt.device_did,
    ops: opsOf(receipt),
    receiptJson: JSON.stringify(receipt), // JSON.parse kept the wire field order
  };
}

function quarantineEntry(value: unknown): QuarantineEntry {
  const v = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  if (typeof v.pubkey_hex !== "string" || !isLowerHex(v.pubkey_hex, 33) || !isSafeInt(v.until)) {
    throw new Error("not a quarantine record (needs pubkey_hex and until)");
  }
  return {
    pubkeyHex: v.pubkey_hex,
    since: isSafeInt(v.since) ? v.since : v.until,
    until: v.until,
    reason: typeof v.reason === "string" ? v.reason : "UNKNOWN",
    evidence: v.evidence ?? null,
  };
}

/** Validates the whole file first (nothing is written if it is damaged), then cuts a torn tail. */
async function checkAndRepair(path: string, validate: (value: unknown, line: number) => void, log?: StoreLog): Promise<ScanReport | null> {
  const report = await scanJsonLines(path, validate);
  if (report && report.validLength < report.size) {
    await truncateTo(path, report.validLength);
    log?.("ledger_repaired", { file: path, truncated_bytes: report.size - report.validLength, records: report.records });
  }
  return report;
}

export async function importJsonl(store: ReceiptStore, dataDir: string, opts: ImportOptions): Promise<ImportReport> {
  const target = store as Partial<ImportTarget> & ReceiptStore;
  if (typeof target.importReceipts !== "function") throw new TypeError("importJsonl needs a store made by openStore");
  const backend = target as ImportTarget;
  const ledgerPath = join(dataDir, LEDGER_FILE);
  const quarantinePath = join(dataDir, QUARANTINE_FILE);
  const none: ImportReport = { receipts: 0, quarantine: 0, repaired: false, epochSecret: false, imported: false };

  if (await backend.importAlreadyDone(IMPORT_NAME)) return none;
  const epochSecret = await importEpochSecret(store, dataDir);

  const ledger = await checkAndRepair(ledgerPath, (v, line) => void ledgerRow(v, line, opts.opsOf), opts.log);
  const quarantine: QuarantineEntry[] = [];
  const quarantineReport = await checkAndRepair(quarantinePath, (v) => void quarantineEntry(v), opts.log);
  if (!ledger && !quarantineReport) return { ...none, epochSecret };

  let receipts = 0;
  if (ledger) {
    let batch: ImportedReceipt[] = [];
    await scanJsonLines(
      ledgerPath,
      async (value, line) => {
        batch.push(ledgerRow(value, line, opts.opsOf));
        if (batch.length >= BATCH) {
          receipts += await backend.importReceipts(batch);
          batch = [];
          if (line % 100_000 < BATCH) opts.log?.("jsonl_import_progress", { lines: line, of: ledger.records });
        }
      },
      ledger.validLength,
    );
    receipts += await backend.importReceipts(batch);
    await backend.importAdvanceSeq();
  }
  if (quarantineReport) await scanJsonLines(quarantinePath, (v) => void quarantine.push(quarantineEntry(v)), quarantineReport.validLength);
  await backend.importFinish(IMPORT_NAME, receipts, quarantine);
  for (const path of [ledgerPath, quarantinePath]) {
    try {
      renameSync(path, `${path}.imported`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
  const repaired = [ledger, quarantineReport].some((r) => r !== null && r.validLength < r.size);
  opts.log?.("jsonl_imported", { receipts, quarantine: quarantine.length, repaired, lines: ledger?.records ?? 0 });
  return { receipts, quarantine: quarantine.length, repaired, epochSecret, imported: true };
}

/** Keeps the challenge stable across the move: the database adopts the file's secret unless it has one. */
async function importEpochSecret(store: ReceiptStore, dataDir: string): Promise<boolean> {
  let hex: string;
  try {
    hex = readFileSync(join(dataDir, EPOCH_SECRET_FILE), "utf8").trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
  if (!isLowerHex(hex, 32)) throw new Error(`${join(dataDir, EPOCH_SECRET_FILE)} does not hold 64 lowercase hex characters`);
  const fromFile = hexToBytes(hex);
  const stored = await store.epochSecret(() => fromFile);
  return Buffer.from(stored).equals(Buffer.from(fromFile));
}
