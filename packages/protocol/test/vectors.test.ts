import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildVectors } from "../scripts/make-vectors";
import {
  activationKey, bytesToHex, computeY2, deriveSeed, fmix32, genWord, hexToBytes, parseAndVerifyReceipt, receiptDigest,
  serializeReceipt, signReceipt, signingPayload, secretKeyFromHex, shift1, shift2, W1_KEY, W2_KEY, workRoot,
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
      const seed = deriveSeed({ prevHash: hexToBytes(v.prev_hash_hex), deviceDid: v.device_did, nonce: v.nonce });
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
    });
  }

  it("signed receipt: payload, digest, signature and wire form match", () => {
    const r = vectors.receipt;
    expect(signingPayload(r.body)).toBe(r.signing_payload);
    expect(bytesToHex(receiptDigest(r.body))).toBe(r.digest_hex);
    const signed = signReceipt(r.body, secretKeyFromHex(r.secret_key_hex));
    expect(serializeReceipt(signed)).toBe(r.receipt_json);
    expect(parseAndVerifyReceipt(r.receipt_json)).toEqual(signed);
  });

  it("the committed file is exactly what the generator writes", () => {
    expect(JSON.parse(JSON.stringify(buildVectors()))).toEqual(vectors);
  });
});
