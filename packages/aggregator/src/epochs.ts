/**
 * Challenge epochs, derived rather than stored, so a restart changes nothing:
 *
 *   epoch_id      = floor(unix_ms / (EPOCH_SECONDS · 1000))
 *   prev_hash     = HMAC-SHA256(secret, "tops-aggregator/v1/epoch" ‖ 0x00 ‖ u32le(EPOCH_SECONDS) ‖ u64le(epoch_id))
 *   expires_at    = (epoch_id + 1) · EPOCH_SECONDS · 1000      (Unix milliseconds)
 *
 * The secret is 32 random bytes created once in DATA_DIR/epoch-secret (mode 0600). Workers
 * cannot predict a future prev_hash without it, so no attempt can be precomputed. EPOCH_SECONDS
 * is part of the HMAC input: changing it gives new prev_hashes instead of reusing old ones.
 */
import { randomBytes, createHmac } from "node:crypto";
import { chmodSync, closeSync, fsyncSync, linkSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { bytesToHex, concatBytes, isLowerHex, hexToBytes, u32le, u64le, utf8 } from "@tops/protocol";
import { AggregatorErrorCode } from "./errors";
import { fsyncDirectory } from "./jsonl";

export const EPOCH_SECRET_FILE = "epoch-secret";
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

export interface EpochSecret {
  readonly secret: Uint8Array;
  /** True when this call created the file. */
  readonly created: boolean;
  /** True when the file was readable by others and its mode was reset to 0600. */
  readonly modeRepaired: boolean;
}

/**
 * Reads DATA_DIR/epoch-secret, creating it on first start. Creation writes a temporary file
 * (0600, fsync'd) and hard-links it into place, so the secret either exists whole or not at
 * all, and two processes starting at once end up with the same one.
 */
export function loadOrCreateEpochSecret(dataDir: string): EpochSecret {
  const path = join(dataDir, EPOCH_SECRET_FILE);
  let created = false;
  try {
    statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    const tmp = `${path}.${process.pid}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, `${bytesToHex(randomBytes(32))}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, path);
      created = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    } finally {
      unlinkSync(tmp);
    }
    fsyncDirectory(dataDir);
  }
  let modeRepaired = false;
  if ((statSync(path).mode & 0o077) !== 0) {
    chmodSync(path, 0o600);
    modeRepaired = true;
  }
  const hex = readFileSync(path, "utf8").trim();
  if (!isLowerHex(hex, 32)) throw new Error(`${path} does not hold 64 lowercase hex characters; restore it from a backup (changing it invalidates the current challenge)`);
  return { secret: hexToBytes(hex), created, modeRepaired };
}
