import { W1_KEY, activationKey, genElement, type GenKey } from "@tops/protocol";
import { describe, expect, it } from "vitest";
import { generateRows, generateWeights } from "../src/weights";

describe("fast generator layouts", () => {
  it("W[i][j] = element(key, j, i) for every element, depth not a multiple of 4 included", () => {
    for (const [depth, width] of [[1, 1], [3, 5], [4, 4], [13, 7], [66, 33]] as const) {
      const w = generateWeights(W1_KEY, depth, width);
      expect(w.length).toBe(depth * width);
      for (let i = 0; i < depth; i++) for (let j = 0; j < width; j++) expect(w[i * width + j], `${depth}x${width} [${i}][${j}]`).toBe(genElement(W1_KEY, j, i));
    }
  });

  it("writes into a given buffer and refuses one of the wrong size", () => {
    const out = new Int8Array(6 * 9);
    expect(generateWeights(W1_KEY, 6, 9, out)).toBe(out);
    expect(out).toEqual(generateWeights(W1_KEY, 6, 9));
    expect(() => generateWeights(W1_KEY, 6, 9, new Int8Array(53))).toThrow(RangeError);
  });

  it("rows of A in the order asked: out[i·cols + c] = element(key, rows[i], c)", () => {
    const key: GenKey = activationKey(Uint8Array.from({ length: 32 }, (_, i) => 255 - i));
    const rows = [5, 0, 0xfffffe, 5];
    for (const cols of [1, 2, 7, 8, 37]) {
      const a = generateRows(key, rows, cols);
      rows.forEach((r, i) => {
        for (let c = 0; c < cols; c++) expect(a[i * cols + c], `row ${r} col ${c}`).toBe(genElement(key, r, c));
      });
    }
  });
});
