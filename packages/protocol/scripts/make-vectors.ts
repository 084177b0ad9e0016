/**
 * Writes vectors/vectors.json: inputs and expected outputs of every protocol step, for this
 * implementation's tests and for anyone writing another. Run after a deliberate protocol change
 * only (`pnpm --filter @tops/protocol vectors`); the tests fail when code and vectors disagree.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { blake3 } from "@noble/hashes/blake3.js";
import {
  MerkleTree, W1_KEY, W2_KEY, activationKey, bytesToHex, computeY2, deriveSeed, fieldsToSign, fmix32, genWord, hexToBytes, publicKeyHex,
  receiptDigest, rowLeaves, secretKeyFromHex, serializeReceipt, shift1, shift2, signReceipt, signingPayload, utf8, type Sizes,
} from "../src/index";

export const TEST_SECRET_KEY_HEX = bytesToHex(blake3(utf8("tops-work test key; never use for anything real")));
/** A second key: the same attempt under it is different work (the seed binds the signer). */
export const OTHER_SECRET_KEY_HEX = bytesToHex(blake3(utf8("tops-work second test key; never use for anything real")));
const TEST_PUBKEY_HEX = publicKeyHex(hexToBytes(TEST_SECRET_KEY_HEX));
const OTHER_PUBKEY_HEX = publicKeyHex(hexToBytes(OTHER_SECRET_KEY_HEX));

const prev = (label: string): string => bytesToHex(blake3(utf8(label)));

const cases: { name: string; pubkey_hex: string; prev_hash_hex: string; device_did: string; nonce: number; sizes: Sizes }[] = [
  { name: "64-zero-prev", pubkey_hex: TEST_PUBKEY_HEX, prev_hash_hex: "00".repeat(32), device_did: "did:peaq:DEVICE123", nonce: 0, sizes: { m: 64, n: 64, k: 64, batch: 1 } },
  { name: "64-a", pubkey_hex: TEST_PUBKEY_HEX, prev_hash_hex: prev("epoch 1"), device_did: "did:peaq:DEVICE123", nonce: 1, sizes: { m: 64, n: 64, k: 64, batch: 1 } },
  { name: "64-a-other-key", pubkey_hex: OTHER_PUBKEY_HEX, prev_hash_hex: prev("epoch 1"), device_did: "did:peaq:DEVICE123", nonce: 1, sizes: { m: 64, n: 64, k: 64, batch: 1 } },
  { name: "64-b", pubkey_hex: TEST_PUBKEY_HEX, prev_hash_hex: prev("epoch 2"), device_did: "did:peaq:other-device", nonce: 2 ** 53 - 1, sizes: { m: 64, n: 64, k: 64, batch: 1 } },
  { name: "256-a", pubkey_hex: TEST_PUBKEY_HEX, prev_hash_hex: prev("epoch 3"), device_did: "did:peaq:DEVICE123", nonce: 42, sizes: { m: 256, n: 256, k: 256, batch: 1 } },
  { name: "256-b", pubkey_hex: TEST_PUBKEY_HEX, prev_hash_hex: prev("epoch 4"), device_did: "did:peaq:DEVICE456", nonce: 7, sizes: { m: 256, n: 256, k: 256, batch: 1 } },
  { name: "non-square-batched", pubkey_hex: TEST_PUBKEY_HEX, prev_hash_hex: prev("epoch 5"), device_did: "did:peaq:DEVICE123", nonce: 99, sizes: { m: 48, n: 80, k: 100, batch: 2 } },
  { name: "odd-rows", pubkey_hex: TEST_PUBKEY_HEX, prev_hash_hex: prev("epoch 6"), device_did: "did:peaq:DEVICE123", nonce: 3, sizes: { m: 5, n: 33, k: 17, batch: 3 } },
];

function attemptVector(c: (typeof cases)[number]) {
  const seed = deriveSeed({ pubkey: hexToBytes(c.pubkey_hex), prevHash: hexToBytes(c.prev_hash_hex), deviceDid: c.device_did, nonce: c.nonce });
  const y2 = computeY2(seed, c.sizes);
  const key = activationKey(seed);
  const rows = c.sizes.batch * c.sizes.m;
  const leaves = rowLeaves(c.sizes, y2);
  const tree = MerkleTree.fromLeaves(leaves);
  // The last row: on an odd level count its node is carried up, so its path is shorter.
  const opened = rows - 1;
  return {
    ...c,
    seed_hex: seed,
    a_key_words: [...key],
    a_row0_words: Array.from({ length: 4 }, (_, w) => genWord(key, 0, w)),
    shift1: shift1(c.sizes.k),
    shift2: shift2(c.sizes.n),
    y2_first_row_hex: bytesToHex(y2.subarray(0, c.sizes.n)),
    y2_last_row_hex: bytesToHex(y2.subarray(y2.length - c.sizes.n)),
    leaf_first_hex: bytesToHex(leaves.subarray(0, 32)),
    leaf_last_hex: bytesToHex(leaves.subarray(leaves.length - 32)),
    opening: { row: opened, y2_hex: bytesToHex(y2.subarray(opened * c.sizes.n, (opened + 1) * c.sizes.n)), path: tree.path(opened).map(bytesToHex) },
    work_root_hex: bytesToHex(tree.root),
  };
}

export function buildVectors() {
  const sk = secretKeyFromHex(TEST_SECRET_KEY_HEX);
  const attempts = cases.map(attemptVector).map((v) => ({ ...v, seed_hex: bytesToHex(v.seed_hex) }));
  const a = attempts[1]!;
  const body = {
    device_did: a.device_did, epoch_id: 1, prev_hash_hex: a.prev_hash_hex, nonce: a.nonce, work_root_hex: a.work_root_hex,
    sizes: a.sizes, time_ms: 17, kernel_ver: "tops-gemm/1", driver_hint: "reference-cpu",
  };
  const receipt = signReceipt(body, sk);
  const signed = fieldsToSign(body, sk);
  return {
    description: "tops-work protocol v2 test vectors; see packages/protocol/SPEC.md",
    fmix32: [0, 1, 0xdeadbeef, 0xffffffff].map((x) => ({ in: x, out: fmix32(x) })),
    weights: {
      w1_key_words: [...W1_KEY],
      w2_key_words: [...W2_KEY],
      w1t_row0_words: Array.from({ length: 4 }, (_, w) => genWord(W1_KEY, 0, w)),
      w2t_row5_words: Array.from({ length: 4 }, (_, w) => genWord(W2_KEY, 5, w)),
    },
    attempts,
    receipt: {
      secret_key_hex: TEST_SECRET_KEY_HEX,
      body,
      signing_payload: signingPayload(signed),
      digest_hex: bytesToHex(receiptDigest(signed)),
      receipt_json: serializeReceipt(receipt),
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = fileURLToPath(new URL("../vectors/vectors.json", import.meta.url));
  writeFileSync(out, JSON.stringify(buildVectors(), null, 2) + "\n");
  console.log(`wrote ${out}`);
}
