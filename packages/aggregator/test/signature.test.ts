/** The node:crypto hot path must give exactly the protocol's (@noble) verdict. */
import { randomBytes } from "node:crypto";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex, hexToBytes, receiptDigest, signReceipt, verifyReceiptSignature, type Receipt } from "@tops/protocol";
import { describe, expect, it } from "vitest";
import { NodeSignatureVerifier, SECP256K1_N } from "../src/index";
import { honestBody, newKey } from "./support";

const challenge = { epoch_id: 42, prev_hash_hex: bytesToHex(randomBytes(32)), expires_at: 0 };
const hex64 = (n: bigint): string => n.toString(16).padStart(64, "0");

function variants(r: Receipt): [string, Receipt][] {
  const rr = BigInt(`0x${r.sig_hex.slice(0, 64)}`);
  const s = BigInt(`0x${r.sig_hex.slice(64)}`);
  const flipped = hexToBytes(r.sig_hex);
  flipped[Math.floor(Math.random() * 64)]! ^= 1 << Math.floor(Math.random() * 8);
  return [
    ["valid", r],
    ["tampered field", { ...r, time_ms: r.time_ms + 1 }],
    ["tampered did", { ...r, device_did: `${r.device_did}x` }],
    ["flipped signature bit", { ...r, sig_hex: bytesToHex(flipped) }],
    ["high-S twin", { ...r, sig_hex: hex64(rr) + hex64(SECP256K1_N - s) }],
    ["r = 0", { ...r, sig_hex: hex64(0n) + hex64(s) }],
    ["s = 0", { ...r, sig_hex: hex64(rr) + hex64(0n) }],
    ["r = n", { ...r, sig_hex: hex64(SECP256K1_N) + hex64(s) }],
    ["r + n overflow", { ...r, sig_hex: "ff".repeat(32) + hex64(s) }],
    ["other key", { ...r, pubkey_hex: newKey().pubkeyHex }],
    ["random signature", { ...r, sig_hex: bytesToHex(randomBytes(64)) }],
    ["appended field changed (signed since v2)", { ...r, protocol_version: 1 }],
  ];
}

describe("NodeSignatureVerifier", () => {
  it("agrees with the protocol's @noble check on valid, tampered, high-S and out-of-range signatures", () => {
    const node = new NodeSignatureVerifier(4);
    let valid = 0;
    for (let i = 0; i < 60; i++) {
      const key = newKey();
      const r = signReceipt(honestBody(key, challenge, i), key.sk);
      for (const [name, v] of variants(r)) {
        const expected = verifyReceiptSignature(v);
        expect(node.check(v), `${name} (#${i})`).toBe(expected);
        if (expected) valid++;
      }
    }
    expect(valid).toBe(60);
  }, 30_000);

  it("refuses the twin key recovered from a valid signature, like @noble: pubkey_hex is signed", () => {
    const key = newKey();
    const r = signReceipt(honestBody(key, challenge, 1), key.sk);
    const sig = secp256k1.Signature.fromBytes(hexToBytes(r.sig_hex), "compact");
    const node = new NodeSignatureVerifier();
    let twins = 0;
    for (const bit of [0, 1]) {
      const pub = bytesToHex(sig.addRecoveryBit(bit).recoverPublicKey(receiptDigest(r)).toBytes(true));
      if (pub === r.pubkey_hex) continue;
      twins++;
      const twin = { ...r, pubkey_hex: pub };
      expect(verifyReceiptSignature(twin)).toBe(false);
      expect(node.check(twin)).toBe(false);
    }
    expect(twins).toBe(1);
  });

  it("refuses with BAD_SIGNATURE and the field, and says why for high S", () => {
    const key = newKey();
    const r = signReceipt(honestBody(key, challenge, 1), key.sk);
    const s = BigInt(`0x${r.sig_hex.slice(64)}`);
    const node = new NodeSignatureVerifier();
    expect(() => node.assert({ ...r, sig_hex: r.sig_hex.slice(0, 64) + hex64(SECP256K1_N - s) })).toThrow(/high S/);
    try {
      node.assert({ ...r, nonce: 2 });
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: "BAD_SIGNATURE", field: "sig_hex" });
    }
  });
});
