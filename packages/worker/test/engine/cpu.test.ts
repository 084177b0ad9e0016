import { readFileSync } from "node:fs";
import { bytesToHex, computeY2, hexToBytes, referenceWorkRoot, rowLeaves, type Sizes } from "@tops/protocol";
import { describe, expect, it } from "vitest";
import { createCpuEngine, createEngine } from "../../src/engine";

interface Vector {
  name: string;
  sizes: Sizes;
  seed_hex: string;
  work_root_hex: string;
}
const vectors = (JSON.parse(readFileSync(new URL("../../../protocol/vectors/vectors.json", import.meta.url), "utf8")) as { attempts: Vector[] }).attempts;

describe("cpu engine", () => {
  it.each(vectors.map((v) => [v.name, v] as const))("matches protocol vector %s", async (_name, v) => {
    const engine = createCpuEngine();
    const r = await engine.runAttempt({ seed: hexToBytes(v.seed_hex), sizes: v.sizes });
    expect(bytesToHex(r.workRoot)).toBe(v.work_root_hex);
    expect(r.variant).toBe("ts-ref");
  });

  it("returns y2 when asked and reports itself", async () => {
    const engine = await createEngine({ backend: "cpu" });
    expect(engine.backend).toBe("cpu");
    expect(engine.selection).toEqual(["cpu: chosen (TypeScript reference)"]);
    expect(/^[\x20-\x7e]{1,256}$/.test(engine.driverHint)).toBe(true);
    const seed = crypto.getRandomValues(new Uint8Array(32));
    const sizes = { m: 5, n: 7, k: 9, batch: 2 };
    const r = await engine.runAttempt({ seed, sizes, returnY2: true });
    expect(r.y2).toEqual(computeY2(seed, sizes));
    expect(r.workRoot).toEqual(referenceWorkRoot(seed, sizes));
    expect(r.leaves).toEqual(rowLeaves(sizes, r.y2!));
    await engine.destroy();
    await expect(engine.runAttempt({ seed, sizes })).rejects.toThrow(/destroyed/);
  });
});
