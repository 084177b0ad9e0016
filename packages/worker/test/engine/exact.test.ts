/**
 * Bit-exactness of every kernel variant on every GPU backend that starts here (gpu: Dawn →
 * Vulkan, lavapipe in CI; gl: Dawn → OpenGL ES → llvmpipe), against the protocol's TypeScript
 * reference, with fresh random seeds, poisoned outputs, odd and non-square sizes, k not a
 * multiple of 4, and the GPU BLAKE3 at chunk boundaries. Which variants run comes from what the
 * adapter offers (inspectBackend); the others are skipped with the reason in the test name.
 */
import { bytesToHex, hexToBytes, type Sizes } from "@tops/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../../src/engine";
import type { BackendReport, VariantAvailability } from "../../src/engine/gpu/inspect";
import { backendReport, expectExact, protocolVectors, requiredBackends, skippedBecause } from "./helpers";

const SIZES: Sizes[] = [
  { m: 1, n: 1, k: 1, batch: 1 },
  { m: 64, n: 64, k: 64, batch: 1 },
  { m: 33, n: 70, k: 101, batch: 2 }, // k % 4 = 1, batch > 1
  { m: 97, n: 131, k: 258, batch: 1 }, // k % 4 = 2, n % 4 = 3
  { m: 130, n: 66, k: 1031, batch: 1 }, // k % 4 = 3, past the f32 kernel's 1024-element flush
  { m: 20, n: 300, k: 40, batch: 1 }, // wide
  { m: 300, n: 12, k: 24, batch: 2 }, // tall, narrower than one tile
];

/** Sizes a subgroup-matrix variant M×N×K accepts (multiples of its shape), batch 1 and 3. */
function alignedSizes(name: string): Sizes[] {
  const [M, N, K] = name.replace(/^sgmat-/, "").split("x").map(Number) as [number, number, number];
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
  const nk = (N * K) / gcd(N, K);
  return [
    { m: 2 * M, n: 2 * nk, k: 3 * K, batch: 1 },
    { m: M, n: nk, k: 5 * K, batch: 3 },
  ];
}

/**
 * Every variant of the report, plus one placeholder per family the device lacks entirely
 * (sgmat without an i8 → i32 config, sg without subgroups), so each shows up skipped with why.
 */
function casesOf(report: Extract<BackendReport, { ok: true }>): VariantAvailability[] {
  const cases = [...report.variants];
  if (!cases.some((v) => v.family === "sgmat")) {
    const offered = report.subgroupMatrixConfigs.map((c) => `${c.componentType}->${c.resultComponentType} ${c.M}x${c.N}x${c.K}`);
    const why = report.features.includes("chromium-experimental-subgroup-matrix")
      ? `no i8 -> i32 subgroup-matrix config (offered: ${offered.join(", ") || "none"})`
      : "the adapter does not offer chromium-experimental-subgroup-matrix";
    cases.push({ name: "sgmat", family: "sgmat", problem: why });
  }
  return cases;
}

const reports = [await backendReport("gpu"), await backendReport("gl")];

for (const report of reports) {
  const kind = report.kind;
  if (!report.ok) {
    if (requiredBackends.includes(kind)) {
      it(`${kind} backend starts (required by TOPS_TEST_REQUIRE_BACKENDS)`, () => {
        expect.fail(`${kind}: ${report.reason}`);
      });
    } else {
      it.skip(`${kind} backend: every exactness case${skippedBecause(report.reason)}`, () => {});
    }
    continue;
  }

  describe(`${kind} backend (${report.adapter.description}): bit-exact with the reference`, () => {
    for (const v of casesOf(report)) {
      if (v.problem !== null) {
        it.skip(`${v.name}${skippedBecause(v.problem)}`, () => {});
        continue;
      }
      describe(v.name, () => {
        let engine: Engine;
        beforeAll(async () => {
          engine = await createEngine({ backend: kind, variant: v.name, poison: true });
        });
        afterAll(async () => {
          await engine?.destroy();
        });
        const sizes = v.family === "sgmat" ? alignedSizes(v.name) : SIZES;
        it.each(sizes.map((s) => [JSON.stringify(s), s] as const))("at %s", async (_label, s) => {
          expect(await expectExact(engine, s)).toBe(v.name);
        });
      });
    }
  });

  describe(`${kind} backend: adapter, vectors, buffer reuse`, () => {
    let engine: Engine;
    beforeAll(async () => {
      engine = await createEngine({ backend: kind, variant: "dot4-8x8r4x4k4", poison: true });
    });
    afterAll(async () => {
      await engine?.destroy();
    });

    it("reports the adapter as printable ASCII", () => {
      expect(engine.backend).toBe(kind);
      expect(engine.kernelVer).toMatch(/^webgpu-int8\/\d+$/);
      expect(/^[\x20-\x7e]{1,256}$/.test(engine.driverHint)).toBe(true);
      expect(engine.driverHint.startsWith(kind === "gl" ? "dawn-opengles" : "dawn-")).toBe(true);
      expect(engine.adapter.description).not.toBe("");
    });

    it("matches every protocol vector", async () => {
      for (const v of protocolVectors()) {
        const r = await engine.runAttempt({ seed: hexToBytes(v.seed_hex), sizes: v.sizes });
        expect(bytesToHex(r.workRoot), v.name).toBe(v.work_root_hex);
      }
    });

    it("reuses its buffers across sizes and repeated attempts (results stay exact)", async () => {
      for (const s of [SIZES[2]!, SIZES[3]!, SIZES[2]!, SIZES[4]!, SIZES[2]!]) await expectExact(engine, s);
    });
  });

  describe(`${kind} backend: GPU row leaves and Merkle tree of work_root`, () => {
    let engine: Engine;
    let cpuHash: Engine;
    beforeAll(async () => {
      engine = await createEngine({ backend: kind, variant: "dot4-8x8r4x4k4", poison: true });
      cpuHash = await createEngine({ backend: kind, variant: "dot4-8x8r4x4k4", poison: true, hashOn: "cpu" });
    });
    afterAll(async () => {
      await engine?.destroy();
      await cpuHash?.destroy();
    });

    // A leaf hashes a 52-byte header then the row's n bytes, in 1 KiB chunks: n = 972 fills
    // one chunk exactly; several chunks per row add the in-leaf tree (odd counts carried up).
    // The row tree pairs R leaves level by level (odd R: the last one carried up).
    it.each([
      ["1 row, 53-byte leaf", { m: 1, n: 1, k: 8, batch: 1 }],
      ["2 rows", { m: 2, n: 5, k: 8, batch: 1 }],
      ["n = 972: exactly 1 chunk, 3 rows", { m: 3, n: 972, k: 8, batch: 1 }],
      ["n = 973: 1 chunk + 1 byte, 5 rows", { m: 5, n: 973, k: 8, batch: 1 }],
      ["n = 1024, 7 rows", { m: 7, n: 1024, k: 8, batch: 1 }],
      ["n = 1996: exactly 2 chunks, 3x3 rows", { m: 3, n: 1996, k: 8, batch: 3 }],
      ["n = 1997: 2 chunks + 1 byte", { m: 3, n: 1997, k: 4, batch: 1 }],
      ["n = 2048, 9 rows", { m: 9, n: 2048, k: 4, batch: 1 }],
      ["n = 3020: exactly 3 chunks (one carried up in the leaf)", { m: 5, n: 3020, k: 4, batch: 1 }],
      ["n = 4096: 5 chunks, 2 rows", { m: 2, n: 4096, k: 4, batch: 1 }],
      ["129 rows of 40", { m: 43, n: 40, k: 8, batch: 3 }],
      ["1000 rows", { m: 1000, n: 13, k: 4, batch: 1 }],
    ] as const)("%s", async (_label, sizes) => {
      await expectExact(engine, sizes);
      await expectExact(cpuHash, sizes);
    });
  });
}
