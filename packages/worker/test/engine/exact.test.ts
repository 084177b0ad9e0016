/**
 * Bit-exactness of every kernel variant on the gl backend (Dawn → OpenGL ES → llvmpipe),
 * against the protocol's TypeScript reference, with fresh random seeds, poisoned outputs,
 * odd and non-square sizes, k not a multiple of 4, and the GPU BLAKE3 at chunk boundaries.
 */
import { bytesToHex, hexToBytes, type Sizes } from "@tops/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../../src/engine";
import { expectExact, protocolVectors, skipGl } from "./helpers";

const SIZES: Sizes[] = [
  { m: 1, n: 1, k: 1, batch: 1 },
  { m: 64, n: 64, k: 64, batch: 1 },
  { m: 33, n: 70, k: 101, batch: 2 }, // k % 4 = 1, batch > 1
  { m: 97, n: 131, k: 258, batch: 1 }, // k % 4 = 2, n % 4 = 3
  { m: 130, n: 66, k: 1031, batch: 1 }, // k % 4 = 3, past the f32 kernel's 1024-element flush
  { m: 20, n: 300, k: 40, batch: 1 }, // wide
  { m: 300, n: 12, k: 24, batch: 2 }, // tall, narrower than one tile
];

const VARIANTS = ["dot4-8x8r4x4k4", "dot4-16x16r4x2k4", "dot4-16x16r4x4k4", "f32-8x8r4x4k4", "f32-16x16r4x2k4", "naive"];

/**
 * TOPS_TEST_GPU=1 also runs every family on the hardware backend (Vulkan/Metal/D3D12), where
 * the subgroup-matrix variant exists if the adapter offers it.
 */
const HARDWARE_FAMILIES = process.env.TOPS_TEST_GPU === "1" ? ["dot4", "f32", "sgmat", "naive"] : [];

describe.skipIf(HARDWARE_FAMILIES.length === 0)("gpu backend: bit-exact with the reference", () => {
  const engines = new Map<string, Engine>();
  beforeAll(async () => {
    for (const family of HARDWARE_FAMILIES) {
      const e = await createEngine({ backend: "gpu", variant: family, poison: true }).catch((err: unknown) => err);
      if (family === "sgmat" && e instanceof Error) continue; // not offered by this adapter
      if (e instanceof Error) throw e;
      engines.set(family, e as Engine);
    }
  });
  afterAll(async () => {
    for (const e of engines.values()) await e.destroy();
  });
  it.each(HARDWARE_FAMILIES.flatMap((f) => [...SIZES, { m: 512, n: 384, k: 1024, batch: 2 }].map((s) => [f, JSON.stringify(s), s] as const)))(
    "%s at %s",
    async (family, _label, sizes) => {
      const e = engines.get(family);
      if (!e) return;
      for (let i = 0; i < 4; i++) expect((await expectExact(e, sizes)).startsWith(family)).toBe(true); // every variant of the family
    },
  );
});

describe.skipIf(skipGl)("gl backend: bit-exact with the reference", () => {
  const engines = new Map<string, Engine>();
  const log: string[] = [];

  beforeAll(async () => {
    for (const variant of VARIANTS) engines.set(variant, await createEngine({ backend: "gl", variant, poison: true, log: (l) => log.push(l) }));
  });
  afterAll(async () => {
    for (const e of engines.values()) await e.destroy();
  });

  it("reports the adapter as printable ASCII", () => {
    const e = engines.get(VARIANTS[0]!)!;
    expect(e.backend).toBe("gl");
    expect(e.kernelVer).toMatch(/^webgpu-int8\/\d+$/);
    expect(/^[\x20-\x7e]{1,256}$/.test(e.driverHint)).toBe(true);
    expect(e.adapter.description).not.toBe("");
  });

  for (const variant of VARIANTS) {
    it.each(SIZES.map((s) => [JSON.stringify(s), s] as const))(`${variant} at %s`, async (_label, sizes) => {
      expect(await expectExact(engines.get(variant)!, sizes)).toBe(variant);
    });
  }

  it("matches every protocol vector", async () => {
    const e = engines.get(VARIANTS[0]!)!;
    for (const v of protocolVectors()) {
      const r = await e.runAttempt({ seed: hexToBytes(v.seed_hex), sizes: v.sizes });
      expect(bytesToHex(r.workRoot), v.name).toBe(v.work_root_hex);
    }
  });

  it("reuses its buffers across sizes and repeated attempts (results stay exact)", async () => {
    const e = engines.get(VARIANTS[0]!)!;
    for (const s of [SIZES[2]!, SIZES[3]!, SIZES[2]!, SIZES[4]!, SIZES[2]!]) await expectExact(e, s);
  });
});

describe.skipIf(skipGl)("gl backend: GPU BLAKE3 of work_root", () => {
  let engine: Engine;
  let cpuHash: Engine;
  beforeAll(async () => {
    engine = await createEngine({ backend: "gl", poison: true });
    cpuHash = await createEngine({ backend: "gl", poison: true, hashOn: "cpu" });
  });
  afterAll(async () => {
    await engine.destroy();
    await cpuHash.destroy();
  });

  // The message is a 39-byte header then rows·n bytes; chunks are 1024 bytes.
  it.each([
    ["1 chunk, 40 bytes", { m: 1, n: 1, k: 8, batch: 1 }],
    ["exactly 1 chunk", { m: 1, n: 985, k: 8, batch: 1 }],
    ["1 chunk + 1 byte", { m: 2, n: 493, k: 8, batch: 1 }],
    ["exactly 2 chunks", { m: 49, n: 41, k: 8, batch: 1 }],
    ["5 chunks + 1 byte", { m: 42, n: 121, k: 8, batch: 1 }],
    ["9 chunks", { m: 64, n: 128, k: 8, batch: 1 }],
    ["101 chunks", { m: 200, n: 513, k: 8, batch: 1 }],
    ["129 chunks, batched", { m: 66, n: 1000, k: 4, batch: 2 }],
  ] as const)("%s", async (_label, sizes) => {
    await expectExact(engine, sizes);
    await expectExact(cpuHash, sizes);
  });
});
