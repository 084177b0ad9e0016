/**
 * Receipts: canonical form, signing and strict parsing (SPEC.md §6–7).
 *
 * The signed message is the compact JSON of every field in wire order with sig_hex set to "":
 * exactly what the original Rust project's verifier computes from the received body
 * (`JSON.stringify({...body, sig_hex: ""})`), so a receipt signed here verifies there. The
 * parser refuses fields out of wire order, so that text is the one canonical form.
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { blake3 } from "@noble/hashes/blake3.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { z } from "zod";
import { bytesToHex, hexToBytes, isLowerHex, utf8 } from "./bytes";
import { MAX_RECEIPT_BYTES, MAX_STRING_LENGTH, PROTOCOL_VERSION } from "./constants";
import { ReceiptError, ReceiptErrorCode as E } from "./errors";
import { sizesProblem, type Sizes } from "./pipeline";

export interface Receipt {
  readonly device_did: string;
  readonly epoch_id: number;
  readonly prev_hash_hex: string;
  readonly nonce: number;
  readonly work_root_hex: string;
  readonly sizes: Sizes;
  readonly time_ms: number;
  readonly kernel_ver: string;
  readonly driver_hint: string;
  readonly sig_hex: string;
  readonly pubkey_hex: string;
  readonly protocol_version: number;
}

/** What a worker fills in; signing adds sig_hex, pubkey_hex and protocol_version. */
export type ReceiptBody = Omit<Receipt, "sig_hex" | "pubkey_hex" | "protocol_version">;

/** What is signed: the body plus the signer's key and the version (sig_hex is "" in the payload). */
export type SignedFields = Omit<Receipt, "sig_hex">;

/** Field order on the wire. The first ten are the Rust original's, in its order; the last two are appended. */
export const RECEIPT_FIELDS = [
  "device_did", "epoch_id", "prev_hash_hex", "nonce", "work_root_hex", "sizes", "time_ms", "kernel_ver", "driver_hint", "sig_hex",
  "pubkey_hex", "protocol_version",
] as const satisfies readonly (keyof Receipt)[];
export const SIZES_FIELDS = ["m", "n", "k", "batch"] as const satisfies readonly (keyof Sizes)[];

function orderedSizes(s: Sizes): Sizes {
  return { m: s.m, n: s.n, k: s.k, batch: s.batch };
}

/** Every field in wire order (object key order is JSON's order). */
function wireOrder(r: SignedFields, sigHex: string) {
  return {
    device_did: r.device_did, epoch_id: r.epoch_id, prev_hash_hex: r.prev_hash_hex, nonce: r.nonce, work_root_hex: r.work_root_hex,
    sizes: orderedSizes(r.sizes), time_ms: r.time_ms, kernel_ver: r.kernel_ver, driver_hint: r.driver_hint,
    sig_hex: sigHex, pubkey_hex: r.pubkey_hex, protocol_version: r.protocol_version,
  };
}

/** The compact JSON that is signed: every field, wire order, sig_hex "". */
export function signingPayload(r: SignedFields): string {
  return JSON.stringify(wireOrder(r, ""));
}

/** digest = SHA-256(BLAKE3(payload)): the 32 bytes ECDSA signs, with no further hashing. */
export function receiptDigest(r: SignedFields): Uint8Array {
  return sha256(blake3(utf8(signingPayload(r))));
}

/** The whole receipt as sent: compact JSON, every field, wire order. */
export function serializeReceipt(r: Receipt): string {
  return JSON.stringify(wireOrder(r, r.sig_hex));
}

export function secretKeyFromHex(hex: string): Uint8Array {
  if (!isLowerHex(hex, 32)) throw new RangeError("secret key must be 64 lowercase hex characters");
  const sk = hexToBytes(hex);
  if (!secp256k1.utils.isValidSecretKey(sk)) throw new RangeError("secret key is not a valid secp256k1 scalar (0 or ≥ n)");
  return sk;
}

/** Compressed (33-byte) public key, lowercase hex. */
export function publicKeyHex(secretKey: Uint8Array): string {
  return bytesToHex(secp256k1.getPublicKey(secretKey, true));
}

/** The fields a signer signs: the body, its public key and this protocol version. */
export function fieldsToSign(body: ReceiptBody, secretKey: Uint8Array): SignedFields {
  return { ...body, sizes: orderedSizes(body.sizes), pubkey_hex: publicKeyHex(secretKey), protocol_version: PROTOCOL_VERSION };
}

/** Signs with RFC 6979 nonces and low-S; returns the complete receipt. */
export function signReceipt(body: ReceiptBody, secretKey: Uint8Array): Receipt {
  const fields = fieldsToSign(body, secretKey);
  const sig = secp256k1.sign(receiptDigest(fields), secretKey, { prehash: false, lowS: true });
  return wireOrder(fields, bytesToHex(sig));
}

/** Throws BAD_SIGNATURE unless sig_hex is a valid low-S signature by pubkey_hex over the digest. */
export function assertReceiptSignature(r: Receipt): void {
  const sig = hexToBytes(r.sig_hex);
  let parsed;
  try {
    parsed = secp256k1.Signature.fromBytes(sig, "compact");
  } catch {
    throw new ReceiptError(E.BAD_SIGNATURE, "sig_hex is not a valid compact signature (r or s out of range)", "sig_hex");
  }
  if (parsed.hasHighS()) throw new ReceiptError(E.BAD_SIGNATURE, "signature has a high S value; only low-S signatures are accepted", "sig_hex");
  const ok = secp256k1.verify(sig, receiptDigest(r), hexToBytes(r.pubkey_hex), { prehash: false, lowS: true });
  if (!ok) throw new ReceiptError(E.BAD_SIGNATURE, "signature does not verify for pubkey_hex over the receipt digest", "sig_hex");
}

export function verifyReceiptSignature(r: Receipt): boolean {
  try {
    assertReceiptSignature(r);
    return true;
  } catch {
    return false;
  }
}

// ---------- strict parsing ----------

const MAX_UINT = Number.MAX_SAFE_INTEGER;
const uint = z.int().min(0).max(MAX_UINT);
const dim = z.int().min(0).max(MAX_UINT); // bounds are checked after, with their own code
const hexField = (bytes: number) => z.string().refine((s) => isLowerHex(s, bytes), { params: { code: E.BAD_HEX, bytes } });
/** Control characters (U+0000–U+001F, U+007F) are refused so the canonical JSON needs no \u escapes. */
const hasControlChar = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
};
const text = z.string().refine((s) => s.length <= MAX_STRING_LENGTH && !hasControlChar(s) && !/\p{Cs}/u.test(s), {
  params: { code: E.BAD_STRING },
});

const receiptSchema = z.strictObject({
  device_did: text.refine((s) => s.length > 0, { params: { code: E.BAD_STRING } }),
  epoch_id: uint,
  prev_hash_hex: hexField(32),
  nonce: uint,
  work_root_hex: hexField(32),
  sizes: z.strictObject({ m: dim, n: dim, k: dim, batch: dim }),
  time_ms: uint,
  kernel_ver: text,
  driver_hint: text,
  sig_hex: hexField(64),
  pubkey_hex: hexField(33),
  protocol_version: uint,
});

/**
 * Walks valid JSON text once, finding what JSON.parse hides: a key repeated in one
 * object, and a number written as a fraction or exponent (1.0 and 1e0 parse to 1).
 */
function scanJson(text: string): ReceiptError | null {
  const objects: ({ keys: Set<string>; expectKey: boolean } | null)[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const top = objects.at(-1);
      if (top?.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return new ReceiptError(E.DUPLICATE_FIELD, `field "${key}" appears more than once`, key);
        top.keys.add(key);
        top.expectKey = false;
      }
      i = j;
    } else if (c === "{") objects.push({ keys: new Set(), expectKey: true });
    else if (c === "[") objects.push(null);
    else if (c === "}" || c === "]") objects.pop();
    else if (c === ",") {
      const top = objects.at(-1);
      if (top) top.expectKey = true;
    } else if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) {
      let j = i;
      while (j < text.length && /[-+0-9.eE]/.test(text[j]!)) j++;
      const literal = text.slice(i, j);
      if (/[.eE]/.test(literal)) return new ReceiptError(E.NOT_AN_INTEGER, `number ${literal} is not written as an integer`);
      i = j - 1;
    }
  }
  return null;
}

function typeName(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

function issueToError(issue: z.core.$ZodIssue, input: Record<string, unknown>): ReceiptError {
  const path = issue.path.map(String);
  const field = path.join(".");
  let parent: unknown = input;
  for (const p of path.slice(0, -1)) parent = (parent as Record<string, unknown>)[p];
  const present = path.length > 0 && typeof parent === "object" && parent !== null && Object.hasOwn(parent, path.at(-1)!);
  const value = present ? (parent as Record<string, unknown>)[path.at(-1)!] : undefined;
  switch (issue.code) {
    case "unrecognized_keys": {
      const where = field ? `${field}.` : "";
      return new ReceiptError(E.UNKNOWN_FIELD, `unknown field "${where}${issue.keys[0]}"`, `${where}${issue.keys[0]}`);
    }
    case "invalid_type":
      if (!present) return new ReceiptError(E.MISSING_FIELD, `missing field "${field}"`, field);
      if (issue.expected === "int" && typeof value === "number") {
        return new ReceiptError(E.NOT_AN_INTEGER, `${field} must be an integer below 2^53, got ${value}`, field);
      }
      return new ReceiptError(E.WRONG_TYPE, `${field} must be ${issue.expected === "int" ? "an integer" : `a ${issue.expected}`}, got ${typeName(value)}`, field);
    case "too_small":
    case "too_big":
      return new ReceiptError(E.INTEGER_OUT_OF_RANGE, `${field} must be an integer in [0, 2^53 - 1], got ${String(value)}`, field);
    case "custom": {
      const code = (issue.params as { code?: string } | undefined)?.code;
      if (code === E.BAD_HEX) {
        const bytes = (issue.params as { bytes: number }).bytes;
        return new ReceiptError(E.BAD_HEX, `${field} must be ${bytes * 2} lowercase hex characters (${bytes} bytes)`, field);
      }
      return new ReceiptError(E.BAD_STRING, `${field} must be 1..${MAX_STRING_LENGTH} characters with no control characters`, field);
    }
    default:
      return new ReceiptError(E.WRONG_TYPE, `${field || "receipt"}: ${issue.message}`, field || undefined);
  }
}

/** The first key not where the wire order puts it (keys are known to be exactly `order`'s). */
function firstMisplaced(keys: readonly string[], order: readonly string[]): string | undefined {
  return keys.find((key, i) => key !== order[i]);
}

/**
 * Parses a receipt strictly: unknown or duplicate keys, missing fields, wrong types,
 * non-integers, malformed hex, out-of-bounds sizes, unknown versions and invalid public
 * keys each raise a ReceiptError with their own code. Does not check the signature.
 */
export function parseReceipt(json: string | Uint8Array): Receipt {
  const size = typeof json === "string" ? utf8(json).length : json.length;
  if (size > MAX_RECEIPT_BYTES) throw new ReceiptError(E.RECEIPT_TOO_LARGE, `receipt is ${size} bytes; the limit is ${MAX_RECEIPT_BYTES}`);
  let text: string;
  let value: unknown;
  try {
    // Strict UTF-8: a replacement character must never be signed or stored in place of bad bytes.
    text = typeof json === "string" ? json : new TextDecoder("utf-8", { fatal: true }).decode(json);
    value = JSON.parse(text);
  } catch (e) {
    throw new ReceiptError(E.INVALID_JSON, `receipt is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ReceiptError(E.NOT_AN_OBJECT, `receipt must be a JSON object, got ${typeName(value)}`);
  }
  const scanned = scanJson(text);
  if (scanned) throw scanned;
  const obj = value as Record<string, unknown>;
  // A receipt of another version may legitimately differ in every other field, so say that first.
  const version = obj.protocol_version;
  if (typeof version === "number" && Number.isInteger(version) && version !== PROTOCOL_VERSION) {
    throw new ReceiptError(E.UNKNOWN_VERSION, `protocol_version ${version} is not supported (this parser knows ${PROTOCOL_VERSION})`, "protocol_version");
  }
  const result = receiptSchema.safeParse(obj);
  if (!result.success) throw issueToError(result.error.issues[0]!, obj);
  const misplaced = firstMisplaced(Object.keys(obj), RECEIPT_FIELDS) ?? firstMisplaced(Object.keys(obj.sizes as object), SIZES_FIELDS);
  if (misplaced) throw new ReceiptError(E.FIELD_ORDER, `field "${misplaced}" is out of wire order (SPEC.md §6.1): the signature covers the fields in that order`, misplaced);
  const r = result.data;
  const problem = sizesProblem(r.sizes);
  if (problem) throw new ReceiptError(E.SIZES_OUT_OF_BOUNDS, `sizes out of bounds: ${problem}`, "sizes");
  if (!isCurvePoint(r.pubkey_hex)) throw new ReceiptError(E.BAD_PUBKEY, "pubkey_hex is not a compressed secp256k1 point", "pubkey_hex");
  return { ...r, sizes: orderedSizes(r.sizes) };
}

/**
 * Keys already found on the curve. Decompressing a point (a square root mod p) took ≈8 % of
 * an aggregator's event loop per receipt, while a fleet sends the same few keys again and
 * again; a point once valid stays valid, so only the lookup is repeated. Bounded: oldest out.
 */
const VALID_KEYS_MAX = 4096;
const validKeys = new Set<string>();

function isCurvePoint(pubkeyHex: string): boolean {
  if (validKeys.has(pubkeyHex)) return true;
  try {
    secp256k1.Point.fromBytes(hexToBytes(pubkeyHex));
  } catch {
    return false;
  }
  if (validKeys.size >= VALID_KEYS_MAX) validKeys.delete(validKeys.values().next().value as string);
  validKeys.add(pubkeyHex);
  return true;
}

/** Parse, then check the signature: the whole stateless part of verification. */
export function parseAndVerifyReceipt(json: string | Uint8Array): Receipt {
  const r = parseReceipt(json);
  assertReceiptSignature(r);
  return r;
}
