/** Per-attempt seed and public weight keys (SPEC.md §2). */
import { blake3 } from "@noble/hashes/blake3.js";
import { concatBytes, u32le, u64le, utf8 } from "./bytes";
import { DOMAIN_SEED, DOMAIN_WEIGHTS_W1, DOMAIN_WEIGHTS_W2 } from "./constants";
import { keyFromBytes, type GenKey } from "./prng";

export const tag = (domain: string): Uint8Array => concatBytes(utf8(domain), new Uint8Array([0]));

/** What identifies an attempt: the signer's key, the challenge's prev_hash, the device, and the worker's nonce. */
export interface AttemptId {
  /** Compressed secp256k1 public key (33 bytes) of the worker that signs the receipt: work is bound to it. */
  readonly pubkey: Uint8Array;
  readonly prevHash: Uint8Array;
  readonly deviceDid: string;
  readonly nonce: number;
}

/** seed = BLAKE3(tag("tops-work/v2/seed") ‖ pubkey ‖ prev_hash ‖ u32le(len did) ‖ did ‖ u64le(nonce)). */
export function deriveSeed({ pubkey, prevHash, deviceDid, nonce }: AttemptId): Uint8Array {
  if (pubkey.length !== 33) throw new RangeError("pubkey must be a 33-byte compressed point");
  if (prevHash.length !== 32) throw new RangeError("prev_hash must be 32 bytes");
  const did = utf8(deviceDid);
  return blake3(concatBytes(tag(DOMAIN_SEED), pubkey, prevHash, u32le(did.length), did, u64le(nonce)));
}

/** Key that generates A from a seed: its first 16 bytes. */
export const activationKey = (seed: Uint8Array): GenKey => keyFromBytes(seed);

/** Public constant keys of the weight matrices W1 and W2. */
export const W1_KEY: GenKey = keyFromBytes(blake3(tag(DOMAIN_WEIGHTS_W1)));
export const W2_KEY: GenKey = keyFromBytes(blake3(tag(DOMAIN_WEIGHTS_W2)));
