/**
 * Keys that failed an audit, refused until a deadline. Kept by the store (a table in the
 * embedded database or PostgreSQL), so a restart pardons no one and every aggregator sharing a
 * database refuses the key; also held here at once, so a request racing the write in this
 * process already sees it.
 */
import type { ReceiptStore } from "@tops/store";

/** Which receipt failed and how, kept for the operator. */
export interface QuarantineEvidence {
  readonly epoch_id: number;
  readonly nonce: number;
  readonly device_did: string;
  readonly sizes: { readonly m: number; readonly n: number; readonly k: number; readonly batch: number };
  readonly work_root_hex: string;
  /** The first row whose opening failed, when one did. */
  readonly row?: number;
  /** What that row held according to the worker and according to the reference (WORK_ROOT_MISMATCH). */
  readonly claimed_row_hex?: string;
  readonly computed_row_hex?: string;
  /** Human-readable reason (bad path, audit timeouts, …). */
  readonly detail?: string;
}

export interface QuarantineRecord {
  readonly pubkey_hex: string;
  readonly since: number;
  readonly until: number;
  readonly reason: string;
  readonly evidence: QuarantineEvidence;
}

export class StoreQuarantine {
  /** pubkey → Unix ms until which it is refused, for quarantines this process decided. */
  private readonly local = new Map<string, number>();

  constructor(private readonly store: ReceiptStore) {}

  /** Unix ms until which the key is refused, or null when it is not (or no longer) quarantined. */
  async refusedUntil(pubkeyHex: string, nowMs: number): Promise<number | null> {
    const local = this.local.get(pubkeyHex);
    if (local !== undefined && local <= nowMs) this.local.delete(pubkeyHex);
    const stored = await this.store.refusedUntil(pubkeyHex, nowMs);
    const until = Math.max(stored ?? 0, local !== undefined && local > nowMs ? local : 0);
    return until > nowMs ? until : null;
  }

  /** Refuses the key from now on (in this process at once) and resolves once the record is committed. */
  add(record: QuarantineRecord): Promise<void> {
    this.local.set(record.pubkey_hex, Math.max(record.until, this.local.get(record.pubkey_hex) ?? 0));
    return this.store.addQuarantine({ pubkeyHex: record.pubkey_hex, since: record.since, until: record.until, reason: record.reason, evidence: record.evidence });
  }
}
