/**
 * What the aggregator knows of each recent attempt (pubkey, epoch_id, nonce), and replay
 * protection (SPEC.md §6.3, §8):
 *  - an attempt is claimed by the first receipt that passes the checks: another receipt for
 *    it (another signature) is a REPLAY;
 *  - a signature r‖s is claimed once, whatever key carries it;
 *  - the SAME receipt again is not a replay: it gets the answer it would have got (the stored
 *    seq, the audit it owes, or "still in progress"), so a worker that lost an answer loses
 *    nothing by resubmitting.
 *
 * Only epochs that can still pass the freshness check (current and previous) can be replayed,
 * so older epochs are forgotten: memory holds at most the attempts of a few epochs, however
 * long the ledger grows. One extra epoch is kept in case the clock steps back a little.
 */

/** The fields of a receipt this bookkeeping needs. */
export interface AttemptRef {
  readonly pubkey_hex: string;
  readonly epoch_id: number;
  readonly nonce: number;
  readonly sig_hex: string;
}

export type AttemptState =
  /** Passed every check, being written to the ledger. */
  | { readonly kind: "in_flight" }
  /** Waiting for its openings (a 202 was sent). */
  | { readonly kind: "auditing" }
  /** In the ledger. */
  | { readonly kind: "stored"; readonly seq: number; readonly audited: boolean }
  /** Refused for good (its audit expired unanswered): the same receipt gets the same refusal. */
  | { readonly kind: "refused"; readonly code: string; readonly message: string };

export type ReplayRule = "attempt" | "signature";

export type Lookup =
  | { readonly kind: "new" }
  | { readonly kind: "same"; readonly state: AttemptState }
  | { readonly kind: "conflict"; readonly rule: ReplayRule };

interface Entry {
  readonly sig: string;
  state: AttemptState;
}

interface EpochSeen {
  /** `${pubkey_hex}:${nonce}` → the receipt that claimed it */
  readonly attempts: Map<string, Entry>;
  /** sig_hex → attempt id */
  readonly signatures: Map<string, string>;
}

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

  lookup(r: AttemptRef): Lookup {
    const entry = this.epochs.get(r.epoch_id)?.attempts.get(`${r.pubkey_hex}:${r.nonce}`);
    if (entry) return entry.sig === r.sig_hex ? { kind: "same", state: entry.state } : { kind: "conflict", rule: "attempt" };
    for (const seen of this.epochs.values()) if (seen.signatures.has(r.sig_hex)) return { kind: "conflict", rule: "signature" };
    return { kind: "new" };
  }

  /** Which replay rule the receipt breaks, or null when it is new or the same receipt again. */
  violation(r: AttemptRef): ReplayRule | null {
    const found = this.lookup(r);
    return found.kind === "conflict" ? found.rule : null;
  }

  /** Claims the attempt and signature for `r` (or updates the state of its own claim). Forgotten epochs are ignored. */
  set(r: AttemptRef, state: AttemptState): void {
    if (r.epoch_id < this.floor) return;
    let seen = this.epochs.get(r.epoch_id);
    if (!seen) {
      seen = { attempts: new Map(), signatures: new Map() };
      this.epochs.set(r.epoch_id, seen);
    }
    const id = `${r.pubkey_hex}:${r.nonce}`;
    const entry = seen.attempts.get(id);
    if (entry && entry.sig === r.sig_hex) {
      entry.state = state;
      return;
    }
    if (!entry) this.count++;
    seen.attempts.set(id, { sig: r.sig_hex, state });
    seen.signatures.set(r.sig_hex, id);
  }

  /** Gives back a claim that was reserved but then refused or not stored. */
  forget(r: AttemptRef): void {
    const seen = this.epochs.get(r.epoch_id);
    const id = `${r.pubkey_hex}:${r.nonce}`;
    const entry = seen?.attempts.get(id);
    if (!seen || !entry || entry.sig !== r.sig_hex) return;
    seen.attempts.delete(id);
    seen.signatures.delete(r.sig_hex);
    this.count--;
  }

  /** Attempts currently remembered. */
  get size(): number {
    return this.count;
  }
}
