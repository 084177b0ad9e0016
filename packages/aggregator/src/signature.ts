/**
 * Receipt signature verification on the hot path, with node:crypto (OpenSSL).
 *
 * The protocol signs digest = SHA-256(BLAKE3(payload)) without further hashing, so
 * `crypto.verify("sha256", BLAKE3(payload), key, sig)` checks exactly that signature:
 * OpenSSL applies the SHA-256. It is several times faster than @noble/curves (see the
 * benchmark in README.md). OpenSSL accepts high-S signatures, so the low-S rule and the
 * range of r and s are enforced here first; the tests check that every verdict equals
 * the protocol's own @noble-based assertReceiptSignature.
 */
import { createPublicKey, verify, type KeyObject } from "node:crypto";
import { blake3 } from "@noble/hashes/blake3.js";
import { hexToBytes, ReceiptError, ReceiptErrorCode, signingPayload, utf8, type Receipt, type SignedFields } from "@tops/protocol";

/** Order of the secp256k1 group. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const HALF_N = SECP256K1_N >> 1n;

/** DER SubjectPublicKeyInfo header for a compressed secp256k1 point (id-ecPublicKey, secp256k1, 33-byte BIT STRING). */
const SPKI_COMPRESSED_PREFIX = Buffer.from("3036301006072a8648ce3d020106052b8104000a032200", "hex");

/** BLAKE3(payload): what node:crypto must be given so that its SHA-256 yields the receipt digest. */
export function digestPreimage(r: SignedFields): Uint8Array {
  return blake3(utf8(signingPayload(r)));
}

/** Why a compact r‖s (128 hex) is not acceptable before any curve arithmetic, or null. */
export function signatureScalarProblem(sigHex: string): string | null {
  const r = BigInt(`0x${sigHex.slice(0, 64)}`);
  const s = BigInt(`0x${sigHex.slice(64, 128)}`);
  if (r === 0n || r >= SECP256K1_N || s === 0n || s >= SECP256K1_N) return "sig_hex is not a valid compact signature (r or s out of range)";
  if (s > HALF_N) return "signature has a high S value; only low-S signatures are accepted";
  return null;
}

/** A public key as OpenSSL wants it, from the receipt's compressed point. */
export function publicKeyObject(pubkeyHex: string): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_COMPRESSED_PREFIX, hexToBytes(pubkeyHex)]), format: "der", type: "spki" });
}

export class NodeSignatureVerifier {
  /** Building a KeyObject costs about as much as half a verification; a fleet reuses few keys. */
  private readonly keys = new Map<string, KeyObject>();

  constructor(private readonly keyCacheSize = 4096) {}

  /** Throws ReceiptError BAD_SIGNATURE (or BAD_PUBKEY) exactly when the protocol's check would. */
  assert(r: Receipt): void {
    const problem = signatureScalarProblem(r.sig_hex);
    if (problem) throw new ReceiptError(ReceiptErrorCode.BAD_SIGNATURE, problem, "sig_hex");
    const key = this.keyOf(r.pubkey_hex);
    let ok: boolean;
    try {
      ok = verify("sha256", digestPreimage(r), { key, dsaEncoding: "ieee-p1363" }, hexToBytes(r.sig_hex));
    } catch {
      ok = false;
    }
    if (!ok) throw new ReceiptError(ReceiptErrorCode.BAD_SIGNATURE, "signature does not verify for pubkey_hex over the receipt digest", "sig_hex");
  }

  /** True when assert() would pass. */
  check(r: Receipt): boolean {
    try {
      this.assert(r);
      return true;
    } catch {
      return false;
    }
  }

  private keyOf(pubkeyHex: string): KeyObject {
    let key = this.keys.get(pubkeyHex);
    if (key) return key;
    try {
      key = publicKeyObject(pubkeyHex);
    } catch {
      throw new ReceiptError(ReceiptErrorCode.BAD_PUBKEY, "pubkey_hex is not a compressed secp256k1 point", "pubkey_hex");
    }
    // Oldest first out: bounded however many keys strangers send in dev mode.
    if (this.keys.size >= this.keyCacheSize) this.keys.delete(this.keys.keys().next().value as string);
    this.keys.set(pubkeyHex, key);
    return key;
  }
}
