/**
 * The engine in a worker thread: same bits as the reference on gl and cpu, typed errors back
 * across the thread boundary, and a clean destroy.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { computeY2, deriveSeed, rowLeaves, workRoot, type Sizes } from "@tops/protocol";
import { createThreadedEngine, GpuError } from "../../src/engine";
import { backendReport, skipGl, skippedBecause } from "./helpers";

const gpu = await backendReport("gpu");
const gpuSkip = gpu.ok ? null : gpu.reason;

const seedOf = () => deriveSeed({ pubkey: Uint8Array.from([2, ...randomBytes(32)]), prevHash: randomBytes(32), deviceDid: "did:test:thread", nonce: 7 });

const BACKENDS = [
  ["gpu", gpuSkip],
  ["gl", skipGl ? "TOPS_SKIP_GL_TESTS=1" : null],
  ["cpu", null],
] as const;

for (const [backend, why] of BACKENDS) describe.skipIf(why !== null)(`threaded engine on ${backend}${skippedBecause(why)}`, () => {
  it("gives the reference's work_root and y2, attempt after attempt", async () => {
    const lines: string[] = [];
    const engine = await createThreadedEngine({ backend, poison: true, log: (l) => lines.push(l) });
    try {
      expect(engine.backend).toBe(backend);
      expect(lines.some((l) => l.startsWith(`${backend}: chosen`))).toBe(true);
      const cases: Sizes[] = [{ m: 33, n: 20, k: 45, batch: 1 }, { m: 16, n: 16, k: 16, batch: 2 }];
      const runs = cases.map(async (sizes) => {
        const seed = seedOf();
        const r = await engine.runAttempt({ seed, sizes, returnY2: true });
        const y2 = computeY2(seed, sizes);
        expect(r.y2).toEqual(y2);
        expect(r.workRoot).toEqual(workRoot(sizes, y2));
        expect(r.leaves).toEqual(rowLeaves(sizes, y2));
      });
      await Promise.all(runs); // queued: one at a time in the thread
    } finally {
      await engine.destroy();
    }
  });
});

describe("threaded engine errors", () => {
  it("a refused attempt comes back as an Error, and the engine keeps working", async () => {
    const engine = await createThreadedEngine({ backend: "cpu" });
    try {
      await expect(engine.runAttempt({ seed: seedOf(), sizes: { m: 0, n: 1, k: 1, batch: 1 } })).rejects.toThrow(/m must be/);
      const seed = seedOf();
      const sizes: Sizes = { m: 4, n: 4, k: 4, batch: 1 };
      expect((await engine.runAttempt({ seed, sizes })).workRoot).toEqual(workRoot(sizes, computeY2(seed, sizes)));
    } finally {
      await engine.destroy();
    }
  });

  it.skipIf(skipGl)(`a variant that cannot run fails creation with a GpuError${skippedBecause(skipGl ? "TOPS_SKIP_GL_TESTS=1" : null)}`, async () => {
    const start = createThreadedEngine({ backend: "gl", variant: "no-such-variant" });
    await expect(start).rejects.toBeInstanceOf(GpuError);
    await expect(start).rejects.toThrow(/^gl: variant "no-such-variant" is unknown or cannot run here/);
  });

  // Where the machine offers no usable gpu adapter, creating one must fail with that reason.
  it.skipIf(gpu.ok)(`gpu fails creation with a GpuError when no usable adapter exists${skippedBecause(gpu.ok ? "this machine has a usable gpu adapter" : null)}`, async () => {
    const start = createThreadedEngine({ backend: "gpu" });
    await expect(start).rejects.toBeInstanceOf(GpuError);
    await expect(start).rejects.toThrow(/^gpu: /);
  });

  it("after destroy, attempts are refused instead of hanging", async () => {
    const engine = await createThreadedEngine({ backend: "cpu" });
    await engine.destroy();
    await expect(engine.runAttempt({ seed: seedOf(), sizes: { m: 4, n: 4, k: 4, batch: 1 } })).rejects.toThrow(/exited/);
  });
});
