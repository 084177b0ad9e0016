import { readFileSync } from "node:fs";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { blake3 } from "@noble/hashes/blake3.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { describe, expect, it } from "vitest";
import { buildVectors } from "../scripts/make-vectors";
import {
  activationKey, bytesToHex, computeY2, deriveSeed, fmix32, genWord, hexToBytes, parseAndVerifyReceipt, receiptDigest,
  serializeReceipt, signReceipt, signingPayload, secretKeyFromHex, shift1, shift2, W1_KEY, W2_KEY, workRoot,
  fieldsToSign, rootFromPath, rowLeaf, rowLeaves,
} from "../src/index";

type Vectors = ReturnType<typeof buildVectors>;
const vectors = JSON.parse(readFileSync(new URL("../vectors/vectors.json", import.meta.url), "utf8")) as Vectors;

describe("test vectors (vectors/vectors.json)", () => {
  it("fmix32 matches", () => {
    for (const v of vectors.fmix32) expect(fmix32(v.in)).toBe(v.out);
  });

  it("public weight keys and their first words match", () => {
    expect([...W1_KEY]).toEqual(vectors.weights.w1_key_words);
    expect([...W2_KEY]).toEqual(vectors.weights.w2_key_words);
    expect([0, 1, 2, 3].map((w) => genWord(W1_KEY, 0, w))).toEqual(vectors.weights.w1t_row0_words);
    expect([0, 1, 2, 3].map((w) => genWord(W2_KEY, 5, w))).toEqual(vectors.weights.w2t_row5_words);
  });

  it("covers 64³, 256³ and a non-square batched size", () => {
    const sizes = vectors.attempts.map((a) => `${a.sizes.m}x${a.sizes.n}x${a.sizes.k}x${a.sizes.batch}`);
    expect(sizes).toContain("64x64x64x1");
    expect(sizes).toContain("256x256x256x1");
    expect(vectors.attempts.some((a) => a.sizes.m !== a.sizes.n || a.sizes.n !== a.sizes.k)).toBe(true);
  });

  for (const v of vectors.attempts) {
    it(`reference pipeline reproduces ${v.name}`, () => {
      const seed = deriveSeed({ pubkey: hexToBytes(v.pubkey_hex), prevHash: hexToBytes(v.prev_hash_hex), deviceDid: v.device_did, nonce: v.nonce });
      expect(bytesToHex(seed)).toBe(v.seed_hex);
      const key = activationKey(seed);
      expect([...key]).toEqual(v.a_key_words);
      expect([0, 1, 2, 3].map((w) => genWord(key, 0, w))).toEqual(v.a_row0_words);
      expect(shift1(v.sizes.k)).toBe(v.shift1);
      expect(shift2(v.sizes.n)).toBe(v.shift2);
      const y2 = computeY2(seed, v.sizes);
      expect(bytesToHex(y2.subarray(0, v.sizes.n))).toBe(v.y2_first_row_hex);
      expect(bytesToHex(y2.subarray(y2.length - v.sizes.n))).toBe(v.y2_last_row_hex);
      expect(bytesToHex(workRoot(v.sizes, y2))).toBe(v.work_root_hex);
      const leaves = rowLeaves(v.sizes, y2);
      expect(bytesToHex(leaves.subarray(0, 32))).toBe(v.leaf_first_hex);
      expect(bytesToHex(leaves.subarray(leaves.length - 32))).toBe(v.leaf_last_hex);
      const { row, y2_hex, path } = v.opening;
      expect(bytesToHex(rowLeaf(v.sizes, row, hexToBytes(y2_hex)))).toBe(v.leaf_last_hex);
      expect(bytesToHex(rootFromPath(v.sizes, row, hexToBytes(y2_hex), path.map(hexToBytes))!)).toBe(v.work_root_hex);
    });
  }

  it("the same attempt under another key is different work", () => {
    const [a, b] = ["64-a", "64-a-other-key"].map((name) => vectors.attempts.find((v) => v.name === name)!);
    expect(a!.pubkey_hex).not.toBe(b!.pubkey_hex);
    expect({ ...a!, pubkey_hex: "", name: "" }).toMatchObject({ prev_hash_hex: b!.prev_hash_hex, device_did: b!.device_did, nonce: b!.nonce });
    expect(a!.seed_hex).not.toBe(b!.seed_hex);
    expect(a!.work_root_hex).not.toBe(b!.work_root_hex);
  });

  it("signed receipt: payload, digest, signature and wire form match", () => {
    const r = vectors.receipt;
    const sk = secretKeyFromHex(r.secret_key_hex);
    const fields = fieldsToSign(r.body, sk);
    expect(signingPayload(fields)).toBe(r.signing_payload);
    expect(bytesToHex(receiptDigest(fields))).toBe(r.digest_hex);
    const signed = signReceipt(r.body, sk);
    expect(serializeReceipt(signed)).toBe(r.receipt_json);
    expect(parseAndVerifyReceipt(r.receipt_json)).toEqual(signed);
  });

  // The Rust project's verifier (verifier/index.js) hashes the body exactly as received, with
  // sig_hex emptied. Done here independently of this package's signing code: JSON.parse, empty
  // sig_hex, JSON.stringify, BLAKE3, SHA-256, @noble verify (no prehash).
  it("verifies the way the original verifier does: whole received body, sig_hex emptied", () => {
    const wire = vectors.receipt.receipt_json;
    const received = JSON.parse(wire) as Record<string, unknown>;
    const payload = JSON.stringify({ ...received, sig_hex: "" });
    expect(payload).toBe(vectors.receipt.signing_payload);
    const digest = sha256(blake3(new TextEncoder().encode(payload)));
    expect(bytesToHex(digest)).toBe(vectors.receipt.digest_hex);
    const sig = hexToBytes(received.sig_hex as string);
    expect(secp256k1.verify(sig, digest, hexToBytes(received.pubkey_hex as string), { prehash: false })).toBe(true);
    // Any change to any field, the appended ones included, breaks it.
    for (const [field, value] of [["pubkey_hex", "03" + "11".repeat(32)], ["protocol_version", 1], ["time_ms", 18]] as const) {
      const changed = sha256(blake3(new TextEncoder().encode(JSON.stringify({ ...received, [field]: value, sig_hex: "" }))));
      expect(secp256k1.verify(sig, changed, hexToBytes(received.pubkey_hex as string), { prehash: false }), field).toBe(false);
    }
  });

  it("the committed file is exactly what the generator writes", () => {
    expect(JSON.parse(JSON.stringify(buildVectors()))).toEqual(vectors);
  });
});
