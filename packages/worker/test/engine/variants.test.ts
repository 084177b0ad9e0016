/** Variant selection from device capabilities: pure, no GPU. */
import { describe, expect, it } from "vitest";
import type { DeviceCaps } from "../../src/engine/gpu/device";
import { selectVariants } from "../../src/engine/gpu/variants";
import { subgroupMatrixSource } from "../../src/engine/gpu/wgsl";

const caps = (over: Partial<DeviceCaps> = {}): DeviceCaps => ({
  dot4: true,
  timestamps: false,
  subgroups: false,
  subgroupMatrix: [],
  subgroupMaxSize: 32,
  maxWorkgroupStorage: 32768,
  maxInvocations: 1024,
  maxWorkgroupSizeX: 1024,
  maxWorkgroupSizeY: 1024,
  maxBinding: 2 ** 31,
  ...over,
});

describe("selectVariants", () => {
  it("offers the dot4 tiles first, then f32; the naive kernel only on request", () => {
    const { usable, skipped } = selectVariants(caps(), undefined);
    expect(usable.map((v) => v.name)).toEqual(["dot4-8x8r4x4k4", "dot4-16x16r4x2k4", "dot4-16x16r4x4k4", "f32-8x8r4x4k4", "f32-16x16r4x2k4"]);
    expect(skipped).toEqual(["sg-64r4x4: the adapter does not offer the subgroups feature", "sg-32r4x2: the adapter does not offer the subgroups feature"]);
    expect(selectVariants(caps(), "naive").usable.map((v) => v.name)).toEqual(["naive"]);
  });

  it("falls back to the f32 kernels, with one line each, when dot4I8Packed is missing", () => {
    const { usable, skipped } = selectVariants(caps({ dot4: false, subgroups: true }), undefined);
    expect(usable.every((v) => v.family === "f32")).toBe(true);
    expect(skipped).toHaveLength(5);
    for (const line of skipped) expect(line).toMatch(/^(dot4|sg)-\S+: WGSL packed_4x8_integer_dot_product \(dot4I8Packed\) is missing$/);
  });

  it("skips tiles above the compatibility limits (128 invocations, 16 KiB)", () => {
    const { usable, skipped } = selectVariants(caps({ maxInvocations: 128, maxWorkgroupStorage: 16384 }), "auto");
    expect(usable.map((v) => v.name)).toEqual(["dot4-8x8r4x4k4", "f32-8x8r4x4k4"]);
    expect(skipped.join("\n")).toMatch(/needs 256 invocations per workgroup, device allows 128/);
  });

  it("adds the subgroup k-split variants after the dot4 tiles where subgroups exist", () => {
    const { usable, skipped } = selectVariants(caps({ subgroups: true }), undefined);
    expect(usable.map((v) => v.name)).toEqual(["dot4-8x8r4x4k4", "dot4-16x16r4x2k4", "dot4-16x16r4x4k4", "sg-64r4x4", "sg-32r4x2", "f32-8x8r4x4k4", "f32-16x16r4x2k4"]);
    expect(skipped).toEqual([]);
    expect(selectVariants(caps({ subgroups: true }), "sg").usable.map((v) => v.family)).toEqual(["sg", "sg"]);
    expect(selectVariants(caps({ subgroups: true, maxInvocations: 32 }), "sg").skipped).toEqual(["sg-64r4x4: needs 64 invocations per workgroup"]);
  });

  it("adds a subgroup-matrix variant per i8 shape the adapter offers, marked untested", () => {
    const { usable } = selectVariants(caps({ subgroupMatrix: [{ componentType: "i8", resultComponentType: "i32", M: 16, N: 16, K: 32 }] }), "sgmat");
    expect(usable).toHaveLength(1);
    const v = usable[0]!;
    expect(v.name).toBe("sgmat-16x16x32");
    expect(v.testedOnHardware).toBe(false);
    expect(v.unsupportedSizes({ m: 64, n: 64, k: 96, batch: 1 })).toBeNull();
    expect(v.unsupportedSizes({ m: 64, n: 48, k: 96, batch: 1 })).toMatch(/multiple|needs/);
    const src = subgroupMatrixSource({ M: 16, N: 16, K: 32 }, 4, 32);
    expect(src).toContain("subgroup_matrix_left<i8, 32, 16>");
    expect(src).toContain("subgroup_matrix_right<i8, 16, 32>");
    expect(src).toContain("subgroup_matrix_result<i32, 16, 16>");
    expect(src).toContain("@workgroup_size(128, 1, 1)");
  });

  it("matches a forced name or family and nothing else", () => {
    expect(selectVariants(caps(), "f32").usable.map((v) => v.name)).toEqual(["f32-8x8r4x4k4", "f32-16x16r4x2k4"]);
    expect(selectVariants(caps(), "dot4-16x16r4x4k4").usable.map((v) => v.name)).toEqual(["dot4-16x16r4x4k4"]);
    expect(selectVariants(caps(), "nope").usable).toEqual([]);
  });
});
