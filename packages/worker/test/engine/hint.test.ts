import { describe, expect, it } from "vitest";
import { printableAscii, toDriverHint } from "../../src/engine";

describe("driver hint", () => {
  it("keeps printable ASCII only, collapses whitespace and bounds the length", () => {
    expect(printableAscii("NVIDIA\u00ae H100\n\t80GB \u0000 HBM3")).toBe("NVIDIA H100 80GB HBM3");
    const long = toDriverHint(["dawn-vulkan", "x".repeat(300)]);
    expect(long.length).toBeLessThanOrEqual(256);
    expect(/^[\x20-\x7e]*$/.test(long)).toBe(true);
  });

  it("joins parts, skipping empty and repeated ones", () => {
    expect(toDriverHint(["dawn-vulkan", "nvidia", "", "NVIDIA", "hopper"])).toBe("dawn-vulkan / nvidia / hopper");
  });
});
