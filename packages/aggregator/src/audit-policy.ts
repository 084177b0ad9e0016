/**
 * Which receipts are audited, which rows they must open, and the audit ids that let any
 * aggregator sharing the epoch secret finish an audit another one started (SPEC.md §8).
 *
 * Every choice is HMAC-SHA256 under a key derived from the epoch secret, computed only once
 * the signed receipt has arrived: a worker cannot know before it commits whether, or where,
 * it will be checked. Being a function of the receipt, a choice is also stable: resubmitting
 * the same attempt (or re-signing it with another work_root) does not draw a new coin.
 *   audited   = u53(HMAC(key, "choose" ‖ pubkey ‖ u64 epoch ‖ u64 nonce)) < AUDIT_RATE · 2^53
 *   rows      = distinct uniform draws from the stream HMAC(key, "rows" ‖ sig ‖ u32 block)
 *   audit_id  = issued_at (decimal ms) "." hex(HMAC(key, "id" ‖ sig ‖ u64 issued_at))[0..32]
 */
import { createHmac } from "node:crypto";
import { hexToBytes, rowCount, u32le, u64le, utf8, type Receipt } from "@tops/protocol";

const KEY_LABEL = "tops-aggregator/v2/audit-key";
const TWO_53 = 2 ** 53;
const TWO_48 = 2 ** 48;

export interface AuditPolicyOptions {
  /** AUDIT_RATE, any value in [0, 1]. */
  readonly rate: number;
  /** AUDIT_ROWS: rows opened per audit (all of them when the attempt has fewer). */
  readonly rows: number;
  /** AUDIT_TIMEOUT_MS: how long after the 202 openings are accepted. */
  readonly timeoutMs: number;
}

export class AuditPolicy {
  private readonly key: Buffer;

  constructor(secret: Uint8Array, readonly options: AuditPolicyOptions) {
    if (!(options.rate >= 0 && options.rate <= 1)) throw new RangeError(`audit rate must be in [0, 1], got ${options.rate}`);
    this.key = createHmac("sha256", secret).update(KEY_LABEL).digest();
  }

  private mac(...parts: Uint8Array[]): Buffer {
    const h = createHmac("sha256", this.key);
    for (const p of parts) h.update(p);
    return h.digest();
  }

  /** Whether this attempt is audited: exact for every rate in [0, 1] (0 never, 1 always). */
  chosen(r: Receipt): boolean {
    const mac = this.mac(utf8("choose"), hexToBytes(r.pubkey_hex), u64le(r.epoch_id), u64le(r.nonce));
    const u53 = mac.readUIntBE(0, 6) * 32 + (mac[6]! >> 3);
    return u53 < this.options.rate * TWO_53;
  }

  /** The rows to open: min(AUDIT_ROWS, batch·m) distinct rows, uniformly drawn, in draw order. */
  rowsFor(r: Receipt): number[] {
    const total = rowCount(r.sizes);
    if (this.options.rows >= total) return Array.from({ length: total }, (_, i) => i);
    const sig = hexToBytes(r.sig_hex);
    const limit = Math.floor(TWO_48 / total) * total; // rejection keeps the draw uniform
    const picked = new Set<number>();
    for (let block = 0; picked.size < this.options.rows; block++) {
      const bytes = this.mac(utf8("rows"), sig, u32le(block));
      for (let at = 0; at + 6 <= bytes.length && picked.size < this.options.rows; at += 6) {
        const v = bytes.readUIntBE(at, 6);
        if (v < limit) picked.add(v % total);
      }
    }
    return [...picked];
  }

  auditId(r: Receipt, issuedAt: number): string {
    return `${issuedAt}.${this.mac(utf8("id"), hexToBytes(r.sig_hex), u64le(issuedAt)).subarray(0, 16).toString("hex")}`;
  }

  /** When the audit `id` was issued for this receipt, or null when no aggregator with this secret issued it. */
  issuedAtOf(r: Receipt, id: string): number | null {
    const match = /^(\d{1,15})\.[0-9a-f]{32}$/.exec(id);
    if (!match) return null;
    const issuedAt = Number(match[1]);
    return this.auditId(r, issuedAt) === id ? issuedAt : null;
  }

  expiresAt(issuedAt: number): number {
    return issuedAt + this.options.timeoutMs;
  }
}

/** Identity of an attempt for replay and audit bookkeeping. */
export const attemptKey = (r: Pick<Receipt, "pubkey_hex" | "epoch_id" | "nonce">): string => `${r.pubkey_hex}:${r.epoch_id}:${r.nonce}`;
