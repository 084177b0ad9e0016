/**
 * Replay protection (SPEC.md §6.2–6.3): a receipt is refused when
 *  - its attempt (pubkey, epoch_id, nonce) was accepted before, or
 *  - its signature r‖s was accepted before under any key. ECDSA public-key recovery lets
 *    anyone compute a second key under which a seen signature verifies; without this rule
 *    that "twin" key could have the same work credited twice.
 * Low-S is enforced before this check, so sig_hex is the one encoding of a signature.
 *
 * Only epochs that can still pass the freshness check (current and previous) can be replayed,
 * so older epochs are forgotten: memory holds at most the receipts of a few epochs, however
 * long the ledger grows. One extra epoch is kept in case the clock steps back a little.
 */
import type { StoredReceiptKey } from "./ledger";

interface EpochSeen {
  /** `${pubkey_hex}:${nonce}` */
  readonly attempts: Set<string>;
  readonly signatures: Set<string>;
}

export type ReplayRule = "attempt" | "signature";

/** Epochs kept behind the current one: the previous (still accepted) plus one of slack. */
const EPOCHS_KEPT_BEHIND = 2;

export class ReplayGuard {
  private readonly epochs = new Map<number, EpochSeen>();
  private floor = Number.NEGATIVE_INFINITY;
  private count = 0;

  /** Forgets epochs that can no longer pass the freshness check. Call with the current epoch. */
  advanceTo(currentEpoch: number): void {
    const floor = currentEpoch - EPOCHS_KEPT_BEHIND;
    if (floor <= this.floor) return;
    this.floor = floor;
    for (const [epoch, seen] of this.epochs) {
      if (epoch < floor) {
        this.count -= seen.attempts.size;
        this.epochs.delete(epoch);
      }
    }
  }

  /** Which replay rule the receipt breaks, or null when it is new. */
  violation(r: StoredReceiptKey): ReplayRule | null {
    if (this.epochs.get(r.epoch_id)?.attempts.has(`${r.pubkey_hex}:${r.nonce}`)) return "attempt";
    for (const seen of this.epochs.values()) if (seen.signatures.has(r.sig_hex)) return "signature";
    return null;
  }

  /** Marks the receipt as seen. Epochs already forgotten are ignored (they are refused as stale). */
  record(r: StoredReceiptKey): void {
    if (r.epoch_id < this.floor) return;
    let seen = this.epochs.get(r.epoch_id);
    if (!seen) {
      seen = { attempts: new Set(), signatures: new Set() };
      this.epochs.set(r.epoch_id, seen);
    }
    const id = `${r.pubkey_hex}:${r.nonce}`;
    if (!seen.attempts.has(id)) this.count++;
    seen.attempts.add(id);
    seen.signatures.add(r.sig_hex);
  }

  /** Undoes record() for a receipt that was reserved but then refused (audit) or not stored. */
  forget(r: StoredReceiptKey): void {
    const seen = this.epochs.get(r.epoch_id);
    if (!seen) return;
    if (seen.attempts.delete(`${r.pubkey_hex}:${r.nonce}`)) this.count--;
    seen.signatures.delete(r.sig_hex);
  }

  /** Attempts currently remembered. */
  get size(): number {
    return this.count;
  }
}
