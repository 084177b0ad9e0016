/**
 * The ledger: every accepted receipt, one JSON line each, in DATA_DIR/ledger.jsonl.
 *
 *   {"seq":1,"accepted_at":1767225600123,"audited":true,"receipt":{…the receipt as received, wire order…}}
 *
 * `seq` counts from 1 in acceptance order; `accepted_at` is Unix milliseconds. A line is on
 * disk (fdatasync'd) before the receipt is answered 200, so a crash loses no accepted receipt.
 */
import { join } from "node:path";
import { isLowerHex, serializeReceipt, type Receipt } from "@tops/protocol";
import { JsonLinesFile, type LoadReport } from "./jsonl";

export const LEDGER_FILE = "ledger.jsonl";

export interface LedgerEntry {
  readonly seq: number;
  readonly accepted_at: number;
  readonly audited: boolean;
  readonly receipt: Receipt;
}

/** The fields of a stored receipt that the replay guard is rebuilt from. */
export interface StoredReceiptKey {
  readonly pubkey_hex: string;
  readonly epoch_id: number;
  readonly nonce: number;
  readonly sig_hex: string;
}

/** One ledger line. The receipt keeps its wire field order (serializeReceipt), as a reader expects. */
export function ledgerLine(seq: number, acceptedAt: number, audited: boolean, receipt: Receipt): string {
  return `{"seq":${seq},"accepted_at":${acceptedAt},"audited":${audited},"receipt":${serializeReceipt(receipt)}}`;
}

/** What start-up needs of each stored line. */
export interface StoredEntry {
  readonly seq: number;
  readonly audited: boolean;
  readonly key: StoredReceiptKey;
}

/** Checks the parts of a stored line the aggregator relies on; throws (→ corruption) otherwise. */
function storedKey(value: unknown): StoredEntry {
  const entry = value as Partial<Record<"seq" | "receipt" | "audited", unknown>> | null;
  const r = (typeof entry?.receipt === "object" && entry.receipt !== null ? entry.receipt : {}) as Partial<Record<keyof StoredReceiptKey, unknown>>;
  const seq = entry?.seq;
  if (
    typeof seq !== "number" || !Number.isSafeInteger(seq)
    || typeof r.pubkey_hex !== "string" || !isLowerHex(r.pubkey_hex, 33)
    || typeof r.sig_hex !== "string" || !isLowerHex(r.sig_hex, 64)
    || typeof r.epoch_id !== "number" || !Number.isSafeInteger(r.epoch_id)
    || typeof r.nonce !== "number" || !Number.isSafeInteger(r.nonce)
  ) {
    throw new Error("not a ledger entry (needs seq and a receipt with pubkey_hex, sig_hex, epoch_id, nonce)");
  }
  return { seq, audited: entry?.audited === true, key: { pubkey_hex: r.pubkey_hex, sig_hex: r.sig_hex, epoch_id: r.epoch_id, nonce: r.nonce } };
}

export class Ledger {
  private constructor(
    private readonly file: JsonLinesFile,
    private lastSeq: number,
    private entries: number,
  ) {}

  /** Loads the ledger (repairing a torn tail), handing each stored receipt's key to `onEntry`. */
  static async open(dataDir: string, onEntry: (entry: StoredEntry) => void): Promise<{ ledger: Ledger; report: LoadReport }> {
    let lastSeq = 0;
    const { file, report } = await JsonLinesFile.open(join(dataDir, LEDGER_FILE), (value) => {
      const entry = storedKey(value);
      lastSeq = Math.max(lastSeq, entry.seq);
      onEntry(entry);
    });
    return { ledger: new Ledger(file, lastSeq, report.records), report };
  }

  get path(): string {
    return this.file.path;
  }

  /** Receipts in the ledger, including those loaded at start. */
  get size(): number {
    return this.entries;
  }

  /** Non-null once a write failed: the ledger refuses further appends until a restart repairs it. */
  get failed(): Error | null {
    return this.file.failed;
  }

  /** Stores an accepted receipt durably; resolves with its seq once it is on disk. */
  async append(receipt: Receipt, audited: boolean, acceptedAt: number): Promise<number> {
    const seq = ++this.lastSeq;
    await this.file.append(ledgerLine(seq, acceptedAt, audited, receipt));
    this.entries++;
    return seq;
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
