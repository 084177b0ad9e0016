import { Worker } from "node:worker_threads";
import { attemptContext, computeRow, deriveSeed, referenceRows, type Sizes } from "@tops/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRowKernel, referenceKernel, type RowKernel } from "../src/index";

/** The protocol's reference rows: what every kernel must equal bit for bit. */
function expectedRows(seed: Uint8Array, sizes: Sizes, rows: readonly number[]): Uint8Array[] {
  const ctx = attemptContext(seed, sizes);
  return rows.map((r) => computeRow(ctx, r));
}

/** A fixed-seed generator for test parameters, so a failure reproduces. */
function params(seed: number): (below: number) => number {
  let s = seed >>> 0;
  return (below) => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    return Math.floor((((s ^ (s >>> 12)) >>> 0) / 2 ** 32) * below);
  };
}

const seedBytes = (pick: (below: number) => number): Uint8Array => Uint8Array.from({ length: 32 }, () => pick(256));

let kernel: RowKernel;
beforeAll(async () => {
  kernel = await createRowKernel();
});
afterAll(async () => {
  await kernel.close();
});

describe("onnxruntime row kernel", () => {
  it("loads onnxruntime here and passes its self-test", () => {
    expect(kernel.name).toMatch(/^onnxruntime-node \d+\.\d+\.\d+ MatMulInteger/);
    expect(kernel.native).toBe(true);
  });

  it("equals computeRow for random seeds, sizes (odd k and n) and rows, batch > 1 included", async () => {
    const pick = params(20261130);
    for (let c = 0; c < 40; c++) {
      const sizes: Sizes = { m: 1 + pick(40), n: 1 + pick(300), k: 1 + pick(300), batch: 1 + pick(4) };
      const count = sizes.m * sizes.batch;
      const rows = Array.from({ length: 1 + pick(20) }, () => pick(count));
      const seed = seedBytes(pick);
      const got = await kernel.rows(seed, sizes, rows);
      expect(got, `case ${c}: ${JSON.stringify(sizes)} rows ${rows.join(",")}`).toEqual(expectedRows(seed, sizes, rows));
    }
  });

  it("equals the protocol's referenceRows for a v2 attempt (the aggregator's audit oracle)", async () => {
    const seed = deriveSeed({ pubkey: Uint8Array.from({ length: 33 }, (_, i) => (i === 0 ? 2 : i)), prevHash: new Uint8Array(32).fill(0xaa), deviceDid: "did:key:test", nonce: 42 });
    const sizes: Sizes = { m: 256, n: 509, k: 257, batch: 3 };
    const rows = [767, 0, 300, 511, 5, 256, 128, 700, 1, 2, 3, 4, 600, 601, 255, 766];
    expect(await kernel.rows(seed, sizes, rows)).toEqual(referenceRows(seed, sizes, rows));
  });

  it("keeps the order asked, repeats included, and rows from every batch", async () => {
    const sizes: Sizes = { m: 7, n: 45, k: 61, batch: 3 };
    const rows = [20, 0, 13, 7, 20, 14, 6];
    const seed = seedBytes(params(7));
    expect(await kernel.rows(seed, sizes, rows)).toEqual(expectedRows(seed, sizes, rows));
  });

  it("handles k = n = 1 and the lopsided k = 1, n = 4096 and k = 4096, n = 1", async () => {
    const pick = params(11);
    for (const [k, n] of [[1, 1], [1, 4096], [4096, 1], [3, 5]] as const) {
      const sizes: Sizes = { m: 3, n, k, batch: 2 };
      const seed = seedBytes(pick);
      const rows = [0, 5, 2];
      expect(await kernel.rows(seed, sizes, rows), `k=${k} n=${n}`).toEqual(expectedRows(seed, sizes, rows));
    }
  });

  it("is exact beyond f32's range: k = 1500, n = 1100 and a 4096³ spot check", async () => {
    const pick = params(4096);
    for (const sizes of [{ m: 64, n: 1100, k: 1500, batch: 1 }, { m: 4096, n: 4096, k: 4096, batch: 1 }] satisfies Sizes[]) {
      const seed = seedBytes(pick);
      const rows = [0, pick(sizes.m), sizes.m - 1];
      const got = await kernel.rows(seed, sizes, rows);
      expect(got, JSON.stringify(sizes)).toEqual(expectedRows(seed, sizes, rows));
      // y2 spreads over 0..127 (SPEC.md §4.2), so equality is not two rows of zeros agreeing.
      expect(new Set(got.flatMap((r) => [...r])).size).toBeGreaterThan(20);
    }
  }, 120_000);

  it("gives the same rows with no weights cached (cacheBytes 0)", async () => {
    const cold = await createRowKernel({ cacheBytes: 0 });
    try {
      const sizes: Sizes = { m: 10, n: 129, k: 255, batch: 2 };
      const seed = seedBytes(params(3));
      const rows = [19, 4, 11];
      for (let rep = 0; rep < 2; rep++) expect(await cold.rows(seed, sizes, rows)).toEqual(expectedRows(seed, sizes, rows));
    } finally {
      await cold.close();
    }
  });

  it("runs concurrent audits on one kernel, two at a time per size", async () => {
    const pick = params(99);
    const jobs = Array.from({ length: 6 }, (_, i) => {
      const sizes: Sizes = { m: 16, n: 64 + 31 * (i % 3), k: 100, batch: 1 };
      return { seed: seedBytes(pick), sizes, rows: [pick(16), pick(16)] };
    });
    const got = await Promise.all(jobs.map((j) => kernel.rows(j.seed, j.sizes, j.rows)));
    jobs.forEach((j, i) => expect(got[i]).toEqual(expectedRows(j.seed, j.sizes, j.rows)));
  });

  it("returns nothing for no rows and refuses bad input with a RangeError", async () => {
    const sizes: Sizes = { m: 4, n: 8, k: 8, batch: 2 };
    const seed = new Uint8Array(32);
    expect(await kernel.rows(seed, sizes, [])).toEqual([]);
    await expect(kernel.rows(seed, sizes, [8])).rejects.toThrow(/row must be an integer in 0\.\.7, got 8/);
    await expect(kernel.rows(seed, sizes, [-1])).rejects.toThrow(RangeError);
    await expect(kernel.rows(seed, sizes, [1.5])).rejects.toThrow(RangeError);
    await expect(kernel.rows(seed, { ...sizes, k: 0 }, [0])).rejects.toThrow(/k must be an integer/);
    await expect(kernel.rows(new Uint8Array(8), sizes, [0])).rejects.toThrow(/seed/);
    // Allowed by the protocol (8 GiB of weights) but over the kernel's bound: refused, nothing allocated.
    await expect(kernel.rows(seed, { m: 1, n: 65536, k: 65536, batch: 1 }, [0])).rejects.toThrow(/weights for k=65536, n=65536 are 8589934592 bytes, over this kernel's bound/);
    const small = await createRowKernel({ maxWeightBytes: 1000, backend: "reference" });
    await expect(small.rows(seed, { m: 1, n: 30, k: 10, batch: 1 }, [0])).rejects.toThrow(/over this kernel's bound of 1000/);
    expect(await small.rows(seed, { m: 1, n: 20, k: 20, batch: 1 }, [0])).toHaveLength(1);
  });

  it("refuses work once closed", async () => {
    const k = await createRowKernel();
    await k.close();
    await expect(k.rows(new Uint8Array(32), { m: 1, n: 1, k: 1, batch: 1 }, [0])).rejects.toThrow(/closed/);
  });
});

describe("in worker threads", () => {
  it("loads onnxruntime in two threads at once and both equal computeRow", async () => {
    const sizes: Sizes = { m: 32, n: 200, k: 333, batch: 2 };
    const seed = seedBytes(params(5));
    const jobs = [[0, 63, 17], [40, 1]].map((rows) => ({ seed, sizes, rows }));
    const replies = await Promise.all(
      jobs.map(
        (job) =>
          new Promise<{ name: string; native: boolean; rows: Uint8Array[] }>((resolve, reject) => {
            const worker = new Worker(new URL("./fixtures/rows-worker.mjs", import.meta.url), { workerData: job });
            worker.once("message", resolve);
            worker.once("error", reject);
            worker.once("exit", (code) => reject(new Error(`the worker exited with ${code} before answering`)));
          }),
      ),
    );
    replies.forEach((reply, i) => {
      expect(reply.native, reply.name).toBe(true);
      expect(reply.rows).toEqual(expectedRows(seed, sizes, jobs[i]!.rows));
    });
  }, 60_000);
});

describe("fallback to the TypeScript reference", () => {
  it("falls back, saying why, when onnxruntime cannot load, and still computes the rows", async () => {
    const fallback = await createRowKernel({ onnxruntimeModule: "onnxruntime-node-not-installed" });
    expect(fallback.native).toBe(false);
    expect(fallback.name).toMatch(/^ts-reference \(onnxruntime-node-not-installed did not load: .*onnxruntime-node-not-installed/);
    const sizes: Sizes = { m: 5, n: 77, k: 31, batch: 2 };
    const seed = seedBytes(params(1));
    expect(await fallback.rows(seed, sizes, [9, 0, 4])).toEqual(expectedRows(seed, sizes, [9, 0, 4]));
    await expect(fallback.rows(seed, sizes, [10])).rejects.toThrow(RangeError);
  });

  it("fails instead of falling back when the onnxruntime backend is required", async () => {
    await expect(createRowKernel({ backend: "onnxruntime", onnxruntimeModule: "onnxruntime-node-not-installed" })).rejects.toThrow(/did not load/);
  });

  it("uses the reference when asked to", async () => {
    const ref = await createRowKernel({ backend: "reference" });
    expect(ref.name).toBe("ts-reference");
    expect(referenceKernel("x").name).toBe("ts-reference (x)");
  });

  it("refuses bad options", async () => {
    await expect(createRowKernel({ threads: 0 })).rejects.toThrow(/threads/);
    await expect(createRowKernel({ cacheBytes: -1 })).rejects.toThrow(/cacheBytes/);
    await expect(createRowKernel({ maxWeightBytes: 0 })).rejects.toThrow(/maxWeightBytes/);
  });
});
