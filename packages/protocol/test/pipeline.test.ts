import { randomBytes, randomInt } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  attemptContext, attemptOps, ceilLog2, computeRow, computeY2, deriveSeed, genElement, genRow, MAX_DIM, requant,
  shift1, shift2, sizesProblem, workRoot, type Sizes,
  MerkleTree, merkleNode, merkleRoot, pathLength, rootFromPath, rowLeaf, rowLeaves,
} from "../src/index";

const TEST_PUBKEY = Uint8Array.from([2, ...randomBytes(32)]);
const freshSeed = (): Uint8Array => deriveSeed({ pubkey: TEST_PUBKEY, prevHash: randomBytes(32), deviceDid: `did:test:${randomInt(1e9)}`, nonce: randomInt(2 ** 47) });

describe("counter-based generator", () => {
  it("any element equals the same element of its generated row", () => {
    for (let t = 0; t < 20; t++) {
      const ctx = attemptContext(freshSeed(), { m: 4, n: 4, k: 4, batch: 1 });
      const row = randomInt(1 << 20);
      const cols = 1 + randomInt(300);
      const full = genRow(ctx.key, row, cols);
      const col = randomInt(cols);
      expect(genElement(ctx.key, row, col)).toBe(full[col]);
    }
  });

  it("produces all int8 values with roughly uniform frequency", () => {
    const ctx = attemptContext(freshSeed(), { m: 4, n: 4, k: 4, batch: 1 });
    const counts = new Array<number>(256).fill(0);
    for (let r = 0; r < 256; r++) for (const v of genRow(ctx.key, r, 1024)) counts[v + 128]!++;
    const expected = (256 * 1024) / 256;
    for (const c of counts) expect(Math.abs(c - expected)).toBeLessThan(expected * 0.2);
  });
});

describe("reference pipeline", () => {
  it("a row computed alone equals that row of the full matrix, for fresh random seeds and sizes", () => {
    for (let t = 0; t < 8; t++) {
      const sizes: Sizes = { m: 1 + randomInt(40), n: 1 + randomInt(70), k: 1 + randomInt(90), batch: 1 + randomInt(3) };
      const seed = freshSeed();
      const y2 = computeY2(seed, sizes);
      const ctx = attemptContext(seed, sizes);
      for (let check = 0; check < 5; check++) {
        const r = randomInt(sizes.m * sizes.batch);
        expect(computeRow(ctx, r)).toEqual(y2.subarray(r * sizes.n, (r + 1) * sizes.n));
      }
    }
  });

  it("matches a direct, unoptimised evaluation of the formulas", () => {
    const sizes: Sizes = { m: 5, n: 7, k: 9, batch: 2 };
    const seed = freshSeed();
    const ctx = attemptContext(seed, sizes);
    const W1 = (i: number, j: number) => ctx.weights.w1t[j * sizes.k + i]!;
    const W2 = (i: number, j: number) => ctx.weights.w2t[j * sizes.n + i]!;
    const y2 = computeY2(seed, sizes);
    for (let r = 0; r < sizes.m * sizes.batch; r++) {
      const y1 = Array.from({ length: sizes.n }, (_, j) => {
        let acc = 0;
        for (let i = 0; i < sizes.k; i++) acc += genElement(ctx.key, r, i) * W1(i, j);
        return Math.min(127, Math.floor((Math.max(acc, 0) + 2 ** (shift1(sizes.k) - 1)) / 2 ** shift1(sizes.k)));
      });
      for (let j = 0; j < sizes.n; j++) {
        let acc = 0;
        for (let i = 0; i < sizes.n; i++) acc += y1[i]! * W2(i, j);
        const expected = Math.min(127, Math.floor((Math.max(acc, 0) + 2 ** (shift2(sizes.n) - 1)) / 2 ** shift2(sizes.n)));
        expect(y2[r * sizes.n + j]).toBe(expected);
      }
    }
  });

  it("different seeds give different work roots; the same seed the same", () => {
    const sizes: Sizes = { m: 16, n: 16, k: 16, batch: 1 };
    const s1 = freshSeed();
    expect(workRoot(sizes, computeY2(s1, sizes))).toEqual(workRoot(sizes, computeY2(s1, sizes)));
    expect(workRoot(sizes, computeY2(s1, sizes))).not.toEqual(workRoot(sizes, computeY2(freshSeed(), sizes)));
  });

  it("the work root commits to every output element and to the sizes", () => {
    const sizes: Sizes = { m: 8, n: 8, k: 8, batch: 1 };
    const y2 = computeY2(freshSeed(), sizes);
    const root = workRoot(sizes, y2);
    const flipped = y2.slice();
    flipped[randomInt(flipped.length)]! ^= 1;
    expect(workRoot(sizes, flipped)).not.toEqual(root);
    expect(workRoot({ m: 4, n: 8, k: 8, batch: 2 }, y2)).not.toEqual(root);
  });

  it("the seed binds the signer's key", () => {
    const id = { prevHash: randomBytes(32), deviceDid: "did:test:x", nonce: 5 };
    const a = deriveSeed({ ...id, pubkey: TEST_PUBKEY });
    const b = deriveSeed({ ...id, pubkey: Uint8Array.from([3, ...TEST_PUBKEY.subarray(1)]) });
    expect(a).not.toEqual(b);
  });
});

describe("row Merkle tree (SPEC.md §5)", () => {
  // Small enough to write the tree out by hand: 5 rows → levels of 5, 3, 2, 1 with carries.
  it("matches the tree written out by hand for 5 rows, carrying the odd last node", () => {
    const sizes: Sizes = { m: 5, n: 3, k: 2, batch: 1 };
    const y2 = computeY2(freshSeed(), sizes);
    const L = [0, 1, 2, 3, 4].map((r) => rowLeaf(sizes, r, y2.subarray(r * 3, r * 3 + 3)));
    const expected = merkleNode(merkleNode(merkleNode(L[0]!, L[1]!), merkleNode(L[2]!, L[3]!)), L[4]!);
    expect(workRoot(sizes, y2)).toEqual(expected);
  });

  it("a single row is its own root", () => {
    const sizes: Sizes = { m: 1, n: 7, k: 3, batch: 1 };
    const y2 = computeY2(freshSeed(), sizes);
    expect(workRoot(sizes, y2)).toEqual(rowLeaf(sizes, 0, y2));
  });

  it("every row of trees of 1..40 rows opens to the root; a changed byte, row index or path does not", () => {
    for (let rows = 1; rows <= 40; rows++) {
      const sizes: Sizes = { m: rows, n: 4, k: 3, batch: 1 };
      const y2 = computeY2(freshSeed(), sizes);
      const tree = MerkleTree.fromLeaves(rowLeaves(sizes, y2));
      expect(tree.root).toEqual(workRoot(sizes, y2));
      for (let r = 0; r < rows; r++) {
        const row = y2.slice(r * 4, r * 4 + 4);
        const path = tree.path(r);
        expect(path.length).toBe(pathLength(rows, r));
        expect(rootFromPath(sizes, r, row, path)).toEqual(tree.root);
        const bad = row.slice();
        bad[0]! ^= 1;
        expect(rootFromPath(sizes, r, bad, path)).not.toEqual(tree.root);
        if (rows > 1) {
          // Leaves bind the index: row r's bytes do not open as another row, even when equal to it.
          const other = (r + 1) % rows;
          expect(rowLeaf(sizes, other, row)).not.toEqual(rowLeaf(sizes, r, row));
          const otherRow = y2.slice(other * 4, other * 4 + 4);
          if (otherRow.some((b, i) => b !== row[i])) expect(rootFromPath(sizes, other, row, tree.path(other))).not.toEqual(tree.root);
          expect(rootFromPath(sizes, r, row, path.slice(1))).toBeNull();
        }
      }
    }
  });

  it("leaves bind the sizes: the same bytes under other sizes give other leaves", () => {
    const row = new Uint8Array(8);
    expect(rowLeaf({ m: 2, n: 8, k: 8, batch: 1 }, 0, row)).not.toEqual(rowLeaf({ m: 1, n: 8, k: 8, batch: 2 }, 0, row));
    expect(rowLeaf({ m: 2, n: 8, k: 8, batch: 1 }, 0, row)).not.toEqual(rowLeaf({ m: 2, n: 8, k: 9, batch: 1 }, 0, row));
  });

  it("merkleRoot refuses an empty or ragged leaf buffer", () => {
    expect(() => merkleRoot(new Uint8Array(0))).toThrow(RangeError);
    expect(() => merkleRoot(new Uint8Array(33))).toThrow(RangeError);
  });
});

describe("arithmetic bounds", () => {
  it("requant: ReLU, round half up, clamp to 127", () => {
    expect(requant(-5, 8)).toBe(0);
    expect(requant(0, 8)).toBe(0);
    expect(requant(127, 8)).toBe(0);
    expect(requant(128, 8)).toBe(1);
    expect(requant(383, 8)).toBe(1);
    expect(requant(384, 8)).toBe(2);
    expect(requant(2 ** 30, 8)).toBe(127);
  });

  it("the worst-case accumulator plus rounding stays below 2^31 at the largest k and n", () => {
    const worst1 = MAX_DIM * 128 * 128 + 2 ** (shift1(MAX_DIM) - 1);
    const worst2 = MAX_DIM * 127 * 128 + 2 ** (shift2(MAX_DIM) - 1);
    expect(worst1).toBeLessThan(2 ** 31);
    expect(worst2).toBeLessThan(2 ** 31);
    expect(requant(worst1, shift1(MAX_DIM))).toBe(127);
  });

  it("ceilLog2 and shifts", () => {
    expect([1, 2, 3, 4, 5, 1024, 1025].map(ceilLog2)).toEqual([0, 1, 2, 2, 3, 10, 11]);
    expect(shift1(1024)).toBe(12);
    expect(shift2(1024)).toBe(10);
  });

  it("sizes out of bounds are described", () => {
    expect(sizesProblem({ m: 1, n: 1, k: 1, batch: 1 })).toBeNull();
    expect(sizesProblem({ m: 0, n: 1, k: 1, batch: 1 })).toMatch(/^m /);
    expect(sizesProblem({ m: 1, n: MAX_DIM + 1, k: 1, batch: 1 })).toMatch(/^n /);
    expect(sizesProblem({ m: 1, n: 1, k: 1.5, batch: 1 })).toMatch(/^k /);
    expect(sizesProblem({ m: 65536, n: 1, k: 1, batch: 1024 })).toMatch(/batch·m/);
    expect(attemptOps({ m: 2, n: 3, k: 4, batch: 5 })).toBe(5 * (2 * 2 * 3 * 4 + 2 * 2 * 3 * 3));
  });
});
