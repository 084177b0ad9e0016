import { readFileSync } from "node:fs";
import { W1_KEY, W2_KEY, activationKey, genElement, type GenKey } from "@tops/protocol";
import { describe, expect, it } from "vitest";
import { generatedSource } from "../scripts/build-wasm";
import { generateRows, generateWeights, weightsSimdAvailable } from "../src/weights";

/** W[i][j] = element(key, j, i), element by element with the protocol's own generator. */
function expectWeights(w: Int8Array, key: GenKey, depth: number, width: number, label: string): void {
  expect(w.length).toBe(depth * width);
  for (let i = 0; i < depth; i++) {
    for (let j = 0; j < width; j++) {
      if (w[i * width + j] !== genElement(key, j, i)) expect(w[i * width + j], `${label} ${depth}x${width} [${i}][${j}]`).toBe(genElement(key, j, i));
    }
  }
}

// Widths below 16 are plain JS only; multiples of 16 are SIMD only; the others are SIMD plus a JS tail.
const SHAPES = [[1, 1], [3, 5], [4, 4], [13, 7], [66, 33], [5, 16], [7, 48], [9, 37], [130, 129], [2, 1040]] as const;

describe("fast generator layouts", () => {
  it("runs WebAssembly SIMD in this Node", () => {
    expect(weightsSimdAvailable()).toBe(true);
  });

  for (const simd of [true, false]) {
    it(`W[i][j] = element(key, j, i) for every element (${simd ? "SIMD" : "plain JS"}), depth not a multiple of 4 included`, () => {
      for (const [depth, width] of SHAPES) {
        expectWeights(generateWeights(W1_KEY, depth, width, { simd }), W1_KEY, depth, width, simd ? "simd" : "js");
      }
    });
  }

  it("equals the plain JS path on a large matrix written in several blocks (1 MiB each)", () => {
    const simd = generateWeights(W2_KEY, 1027, 1040);
    expectWeights(simd, W2_KEY, 1027, 1040, "simd");
    // Buffer.compare: vitest's deep equality is slow on megabyte arrays.
    const js = generateWeights(W2_KEY, 1027, 1040, { simd: false });
    expect(Buffer.compare(new Uint8Array(simd.buffer), new Uint8Array(js.buffer))).toBe(0);
  });

  it("writes into a given buffer and refuses one of the wrong size", () => {
    const out = new Int8Array(6 * 32);
    expect(generateWeights(W1_KEY, 6, 32, { out })).toBe(out);
    expect(out).toEqual(generateWeights(W1_KEY, 6, 32, { simd: false }));
    expect(() => generateWeights(W1_KEY, 6, 9, { out: new Int8Array(53) })).toThrow(RangeError);
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

  it("embeds the module assembled from wasm/weights.wat as it is now", async () => {
    const embedded = readFileSync(new URL("../src/weights-wasm.generated.ts", import.meta.url), "utf8");
    expect(embedded).toBe(await generatedSource());
  });
});
