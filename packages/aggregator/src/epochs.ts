/**
 * Challenge epochs, derived rather than stored, so a restart changes nothing:
 *
 *   epoch_id      = floor(unix_ms / (EPOCH_SECONDS · 1000))
 *   prev_hash     = HMAC-SHA256(secret, "tops-aggregator/v1/epoch" ‖ 0x00 ‖ u32le(EPOCH_SECONDS) ‖ u64le(epoch_id))
 *   expires_at    = (epoch_id + 1) · EPOCH_SECONDS · 1000      (Unix milliseconds)
 *
 * The secret is 32 random bytes created once by the store (whichever aggregator asks first; all
 * that share a database share it). Workers cannot predict a future prev_hash without it, so no
 * attempt can be precomputed. EPOCH_SECONDS is part of the HMAC input: changing it gives new
 * prev_hashes instead of reusing old ones.
 */
import { createHmac } from "node:crypto";
import { bytesToHex, concatBytes, u32le, u64le, utf8 } from "@tops/protocol";
import { AggregatorErrorCode } from "./errors";
const EPOCH_DOMAIN = concatBytes(utf8("tops-aggregator/v1/epoch"), new Uint8Array([0]));

/** GET /challenge's body. */
export interface Challenge {
  readonly epoch_id: number;
  readonly prev_hash_hex: string;
  /** Unix milliseconds (integer) at which this epoch ends and the next one begins. */
  readonly expires_at: number;
}

export type FreshnessProblem = typeof AggregatorErrorCode.STALE_EPOCH | typeof AggregatorErrorCode.PREV_HASH_MISMATCH;

export class EpochSchedule {
  private readonly epochMs: number;
  /** prev_hash of the last few epochs asked for: almost every lookup is the current or previous one. */
  private readonly cache = new Map<number, string>();

  constructor(
    private readonly secret: Uint8Array,
    readonly epochSeconds: number,
  ) {
    if (secret.length !== 32) throw new RangeError("the epoch secret must be 32 bytes");
    this.epochMs = epochSeconds * 1000;
  }

  epochAt(nowMs: number): number {
    return Math.floor(nowMs / this.epochMs);
  }

  prevHashHex(epochId: number): string {
    let hex = this.cache.get(epochId);
    if (hex === undefined) {
      const mac = createHmac("sha256", this.secret).update(EPOCH_DOMAIN).update(u32le(this.epochSeconds)).update(u64le(epochId)).digest();
      hex = bytesToHex(mac);
      if (this.cache.size >= 8) this.cache.clear();
      this.cache.set(epochId, hex);
    }
    return hex;
  }

  challengeAt(nowMs: number): Challenge {
    const epochId = this.epochAt(nowMs);
    return { epoch_id: epochId, prev_hash_hex: this.prevHashHex(epochId), expires_at: (epochId + 1) * this.epochMs };
  }

  /** Receipts may name the current or the previous epoch, with that epoch's prev_hash. */
  freshnessProblem(epochId: number, prevHashHex: string, nowMs: number): FreshnessProblem | null {
    const current = this.epochAt(nowMs);
    if (epochId !== current && epochId !== current - 1) return AggregatorErrorCode.STALE_EPOCH;
    return this.prevHashHex(epochId) === prevHashHex ? null : AggregatorErrorCode.PREV_HASH_MISMATCH;
  }
}
