import { randomBytes } from "node:crypto";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { describe, expect, it } from "vitest";
import {
  bytesToHex, hexToBytes, MAX_RECEIPT_BYTES, receiptDigest, parseAndVerifyReceipt, parseReceipt, publicKeyHex, ReceiptError, ReceiptErrorCode, secretKeyFromHex,
  serializeReceipt, signReceipt, verifyReceiptSignature, type Receipt, type ReceiptBody, type ReceiptErrorCode as Code,
} from "../src/index";

const secretKey = secp256k1.utils.randomSecretKey();
const body: ReceiptBody = {
  device_did: "did:peaq:DEVICE123", epoch_id: 12, prev_hash_hex: bytesToHex(randomBytes(32)), nonce: 5,
  work_root_hex: bytesToHex(randomBytes(32)), sizes: { m: 64, n: 64, k: 64, batch: 1 }, time_ms: 31,
  kernel_ver: "tops-gemm/1", driver_hint: "llvmpipe (LLVM 15.0.6, 256 bits)",
};
const receipt = signReceipt(body, secretKey);
const json = serializeReceipt(receipt);

function codeOf(fn: () => unknown): Code | "accepted" {
  try {
    fn();
    return "accepted";
  } catch (e) {
    if (e instanceof ReceiptError) return e.code;
    throw e;
  }
}

const withField = (patch: Record<string, unknown>): string => JSON.stringify({ ...JSON.parse(json), ...patch });
const without = (field: string): string => {
  const o = JSON.parse(json) as Record<string, unknown>;
  delete o[field];
  return JSON.stringify(o);
};

describe("sign and verify", () => {
  it("round trips: a signed receipt serializes, parses and verifies", () => {
    expect(receipt.pubkey_hex).toBe(publicKeyHex(secretKey));
    expect(receipt.sig_hex).toMatch(/^[0-9a-f]{128}$/);
    expect(parseAndVerifyReceipt(json)).toEqual(receipt);
    expect(verifyReceiptSignature(receipt)).toBe(true);
  });

  it("signing is deterministic (RFC 6979)", () => {
    expect(signReceipt(body, secretKey).sig_hex).toBe(receipt.sig_hex);
  });

  it("rejects each changed signed field", () => {
    const changes: Partial<Receipt>[] = [
      { device_did: "did:peaq:DEVICE124" }, { epoch_id: 13 }, { prev_hash_hex: bytesToHex(randomBytes(32)) }, { nonce: 6 },
      { work_root_hex: bytesToHex(randomBytes(32)) }, { sizes: { m: 64, n: 64, k: 64, batch: 2 } }, { time_ms: 30 },
      { kernel_ver: "tops-gemm/2" }, { driver_hint: "other" },
    ];
    for (const change of changes) expect(verifyReceiptSignature({ ...receipt, ...change })).toBe(false);
  });

  it("rejects a changed signature", () => {
    const sig = hexToBytes(receipt.sig_hex);
    sig[10]! ^= 0x01;
    expect(codeOf(() => parseAndVerifyReceipt(withField({ sig_hex: bytesToHex(sig) })))).toBe(ReceiptErrorCode.BAD_SIGNATURE);
  });

  it("rejects the high-S twin of a valid signature", () => {
    const sig = secp256k1.Signature.fromBytes(hexToBytes(receipt.sig_hex), "compact");
    const high = new secp256k1.Signature(sig.r, secp256k1.Point.CURVE().n - sig.s);
    expect(high.hasHighS()).toBe(true);
    const e = (() => {
      try {
        parseAndVerifyReceipt(withField({ sig_hex: bytesToHex(high.toBytes("compact")) }));
      } catch (err) {
        return err as ReceiptError;
      }
    })();
    expect(e?.code).toBe(ReceiptErrorCode.BAD_SIGNATURE);
    expect(e?.message).toMatch(/high S/);
  });

  it("rejects a receipt carrying another key", () => {
    const other = publicKeyHex(secp256k1.utils.randomSecretKey());
    expect(codeOf(() => parseAndVerifyReceipt(withField({ pubkey_hex: other })))).toBe(ReceiptErrorCode.BAD_SIGNATURE);
  });

  it("the appended fields are checked by the parser and covered by the signature", () => {
    expect(codeOf(() => parseAndVerifyReceipt(withField({ protocol_version: 1 })))).toBe(ReceiptErrorCode.UNKNOWN_VERSION);
    expect(receipt.protocol_version).toBe(2);
    // pubkey_hex is signed: a key recovered from the signature over one payload cannot carry it,
    // because putting that key into the payload changes the digest (SPEC.md §6.2).
    const sig = secp256k1.Signature.fromBytes(hexToBytes(receipt.sig_hex), "compact");
    const twins = [0, 1].map((bit) => {
      try {
        return sig.addRecoveryBit(bit).recoverPublicKey(receiptDigest(receipt)).toHex(true);
      } catch {
        return null;
      }
    });
    expect(twins).toContain(receipt.pubkey_hex);
    for (const twin of twins.filter((t) => t !== null && t !== receipt.pubkey_hex)) {
      expect(codeOf(() => parseAndVerifyReceipt(withField({ pubkey_hex: twin })))).toBe(ReceiptErrorCode.BAD_SIGNATURE);
    }
  });
});

describe("strict parsing: each malformed receipt gets its own error", () => {
  const E = ReceiptErrorCode;
  const cases: [string, string, Code][] = [
    ["too large", json.replace('"did:peaq:DEVICE123"', `"${"x".repeat(MAX_RECEIPT_BYTES)}"`), E.RECEIPT_TOO_LARGE],
    ["not JSON", "{not json", E.INVALID_JSON],
    ["empty body", "", E.INVALID_JSON],
    ["trailing garbage", json + "x", E.INVALID_JSON],
    ["an array", "[1,2]", E.NOT_AN_OBJECT],
    ["null", "null", E.NOT_AN_OBJECT],
    ["duplicate key", json.replace('"nonce":5', '"nonce":5,"nonce":6'), E.DUPLICATE_FIELD],
    ["duplicate key via escape", json.replace('"nonce":5', '"nonce":5,"\\u006eonce":6'), E.DUPLICATE_FIELD],
    ["duplicate key in sizes", json.replace('"m":64', '"m":64,"m":64'), E.DUPLICATE_FIELD],
    ["unknown field", withField({ extra: 1 }), E.UNKNOWN_FIELD],
    ["unknown field in sizes", withField({ sizes: { m: 64, n: 64, k: 64, batch: 1, z: 1 } }), E.UNKNOWN_FIELD],
    ["missing nonce", without("nonce"), E.MISSING_FIELD],
    ["missing sig_hex", without("sig_hex"), E.MISSING_FIELD],
    ["missing pubkey_hex", without("pubkey_hex"), E.MISSING_FIELD],
    ["missing sizes.batch", withField({ sizes: { m: 64, n: 64, k: 64 } }), E.MISSING_FIELD],
    ["nonce as string", withField({ nonce: "5" }), E.WRONG_TYPE],
    ["epoch_id null", withField({ epoch_id: null }), E.WRONG_TYPE],
    ["sizes as array", withField({ sizes: [64, 64, 64, 1] }), E.WRONG_TYPE],
    ["driver_hint as number", withField({ driver_hint: 3 }), E.WRONG_TYPE],
    ["fractional time_ms", json.replace('"time_ms":31', '"time_ms":31.5'), E.NOT_AN_INTEGER],
    ["integer written 5.0", json.replace('"nonce":5', '"nonce":5.0'), E.NOT_AN_INTEGER],
    ["exponent 5e0", json.replace('"nonce":5', '"nonce":5e0'), E.NOT_AN_INTEGER],
    ["nonce ≥ 2^53", json.replace('"nonce":5', '"nonce":9007199254740993'), E.INTEGER_OUT_OF_RANGE],
    ["negative epoch", withField({ epoch_id: -1 }), E.INTEGER_OUT_OF_RANGE],
    ["uppercase hex", withField({ work_root_hex: receipt.work_root_hex.toUpperCase() }), E.BAD_HEX],
    ["odd-length hex", withField({ prev_hash_hex: receipt.prev_hash_hex.slice(1) }), E.BAD_HEX],
    ["short hash", withField({ prev_hash_hex: "00" }), E.BAD_HEX],
    ["non-hex characters", withField({ sig_hex: "zz".repeat(64) }), E.BAD_HEX],
    ["0x-prefixed pubkey", withField({ pubkey_hex: `0x${receipt.pubkey_hex.slice(2)}` }), E.BAD_HEX],
    ["empty device_did", withField({ device_did: "" }), E.BAD_STRING],
    ["control character", withField({ kernel_ver: "a\u0001b" }), E.BAD_STRING],
    ["overlong string", withField({ driver_hint: "d".repeat(300) }), E.BAD_STRING],
    ["m = 0", withField({ sizes: { m: 0, n: 64, k: 64, batch: 1 } }), E.SIZES_OUT_OF_BOUNDS],
    ["k too large", withField({ sizes: { m: 64, n: 64, k: 65537, batch: 1 } }), E.SIZES_OUT_OF_BOUNDS],
    ["batch too large", withField({ sizes: { m: 64, n: 64, k: 64, batch: 5000 } }), E.SIZES_OUT_OF_BOUNDS],
    ["unknown version", withField({ protocol_version: 7 }), E.UNKNOWN_VERSION],
    ["version 1 (unsigned pubkey)", withField({ protocol_version: 1 }), E.UNKNOWN_VERSION],
    ["fields out of wire order", JSON.stringify(Object.fromEntries(Object.entries(receipt).reverse())), E.FIELD_ORDER],
    ["sizes out of order", json.replace('"m":64,"n":64', '"n":64,"m":64'), E.FIELD_ORDER],
    ["pubkey not on curve", withField({ pubkey_hex: `02${"ff".repeat(32)}` }), E.BAD_PUBKEY],
    ["uncompressed prefix", withField({ pubkey_hex: `04${receipt.pubkey_hex.slice(2)}` }), E.BAD_PUBKEY],
  ];

  it("invalid UTF-8 bytes → INVALID_JSON, never a replacement character", () => {
    const bytes = new TextEncoder().encode(json.replace("DEVICE123", "DEVICE12\u00e9"));
    const at = bytes.indexOf(0xc3);
    bytes[at + 1] = 0x28; // 0xC3 0x28 is not UTF-8
    expect(codeOf(() => parseReceipt(bytes))).toBe(ReceiptErrorCode.INVALID_JSON);
    expect(codeOf(() => parseReceipt(new TextEncoder().encode(json)))).toBe("accepted");
  });

  it("has at least twenty cases", () => expect(cases.length).toBeGreaterThanOrEqual(20));

  for (const [name, input, expected] of cases) {
    it(`${name} → ${expected}`, () => {
      expect(codeOf(() => parseReceipt(input))).toBe(expected);
    });
  }

  it("keys remembered as valid points: a point off the curve is refused however often it or valid keys come", () => {
    const offCurve = withField({ pubkey_hex: `03${"ff".repeat(32)}` });
    for (let i = 0; i < 3; i++) {
      expect(codeOf(() => parseReceipt(json))).toBe("accepted");
      expect(codeOf(() => parseReceipt(offCurve))).toBe(E.BAD_PUBKEY);
    }
    // Past the memo's bound (4096 keys), the oldest are forgotten and checked again, still valid.
    const keys = Array.from({ length: 4100 }, (_, i) => publicKeyHex(secretKeyFromHex((i + 1).toString(16).padStart(64, "0"))));
    for (const k of keys) expect(codeOf(() => parseReceipt(withField({ pubkey_hex: k })))).toBe("accepted");
    expect(codeOf(() => parseReceipt(json))).toBe("accepted");
    expect(codeOf(() => parseReceipt(offCurve))).toBe(E.BAD_PUBKEY);
  });

  it("errors name the offending field", () => {
    try {
      parseReceipt(withField({ sizes: { m: 64, n: "x", k: 64, batch: 1 } }));
      expect.unreachable();
    } catch (e) {
      expect((e as ReceiptError).field).toBe("sizes.n");
      expect((e as ReceiptError).message).toMatch(/sizes\.n/);
    }
  });
});
