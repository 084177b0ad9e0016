/**
 * Keys that failed an audit, refused until a deadline. Kept by the store (a table in the
 * embedded database or PostgreSQL), so a restart pardons no one and every aggregator sharing a
 * database refuses the key.
 *
 * /verify asks here on every receipt, so the answer comes from memory: the store's active
 * quarantines, read again every `refreshMs`, plus what this process decided (at once, before
 * its write commits). A quarantine another aggregator committed since the last refresh is still
 * enforced: the store's accept statement refuses a quarantined key in the same transaction
 * (outcome "quarantined", which is noted here too). The refresh only brings the early 403, the
 * one that saves an audit, up to date.
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
  /** pubkey → Unix ms until which it is refused, as the store said at the last refresh. */
  private stored = new Map<string, number>();
  /** pubkey → Unix ms, decided or learnt by this process since (kept until it passes). */
  private readonly local = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | null = null;

  private constructor(
    private readonly store: ReceiptStore,
    private readonly clock: () => number,
    private readonly onRefreshError: (e: unknown) => void,
  ) {}

  /** Reads the store's list once (a failure fails the start), then again every `refreshMs`. */
  static async open(store: ReceiptStore, opts: { refreshMs: number; clock: () => number; onRefreshError: (e: unknown) => void }): Promise<StoreQuarantine> {
    const q = new StoreQuarantine(store, opts.clock, opts.onRefreshError);
    await q.refresh();
    q.timer = setInterval(() => {
      q.refresh().catch(q.onRefreshError);
    }, opts.refreshMs);
    q.timer.unref();
    return q;
  }

  /** Reads the store's active quarantines again (one query, bounded by the number of quarantined keys). */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const now = this.clock();
        const active = await this.store.activeQuarantines(now);
        this.stored = new Map(active.map((q) => [q.pubkeyHex, q.until]));
        for (const [key, until] of this.local) if (until <= now) this.local.delete(key);
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** Unix ms until which the key is refused, or null when it is not (or no longer) quarantined. */
  refusedUntil(pubkeyHex: string, nowMs: number): number | null {
    const until = Math.max(this.stored.get(pubkeyHex) ?? 0, this.local.get(pubkeyHex) ?? 0);
    return until > nowMs ? until : null;
  }

  /** The store refused a receipt because of a quarantine this process had not seen yet. */
  learnt(pubkeyHex: string, until: number): void {
    this.local.set(pubkeyHex, Math.max(until, this.local.get(pubkeyHex) ?? 0));
  }

  /** Refuses the key from now on (in this process at once) and resolves once the record is committed. */
  add(record: QuarantineRecord): Promise<void> {
    this.learnt(record.pubkey_hex, record.until);
    return this.store.addQuarantine({ pubkeyHex: record.pubkey_hex, since: record.since, until: record.until, reason: record.reason, evidence: record.evidence });
  }

  close(): void {
    clearInterval(this.timer);
  }
}
