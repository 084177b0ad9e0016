/**
 * Only the work is timed: a variant's self-check, pipeline compiles and the buffers and weights
 * of a new size are prepared before the clock starts, so the first attempt of a fresh variant
 * reports a time close to the steady state. And the thread waiting for Dawn sleeps between
 * ticks instead of spinning (ticks.ts).
 */
import type { Sizes } from "@tops/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../../src/engine";
import { routedThroughTimer, sleptTicks, tickMode } from "../../src/engine/gpu/ticks";
import { backendReport, freshSeed, requiredBackends, skippedBecause } from "./helpers";

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

for (const report of [await backendReport("gpu"), await backendReport("gl")]) {
  const kind = report.kind;
  const why = report.ok ? null : requiredBackends.includes(kind) ? null : report.reason;
  describe.skipIf(why !== null)(`${kind} backend: timing${skippedBecause(why)}`, () => {
    let engine: Engine;
    beforeAll(async () => {
      engine = await createEngine({ backend: kind, variant: "dot4" });
    });
    afterAll(async () => {
      await engine?.destroy();
    });

    it("the first attempt of each fresh variant takes a time within 5x of its steady state", async () => {
      const sizes: Sizes = { m: 256, n: 256, k: 256, batch: 1 };
      const times = new Map<string, number[]>();
      // The chooser runs each dot4 variant 3 times (warm-up + 2), then keeps the fastest.
      for (let i = 0; i < 12; i++) {
        const r = await engine.runAttempt({ seed: freshSeed(), sizes });
        times.set(r.variant, [...(times.get(r.variant) ?? []), r.wallMs]);
      }
      expect(times.size).toBeGreaterThanOrEqual(3);
      for (const [variant, ms] of times) {
        expect(ms.length, variant).toBeGreaterThanOrEqual(3);
        const [first, ...rest] = ms;
        expect(first!, `${variant}: first ${first!.toFixed(1)} ms vs ${rest.map((t) => t.toFixed(1)).join(", ")}`).toBeLessThan(5 * median(rest));
      }
    });

    it("the thread sleeps between Dawn's ticks; JavaScript setImmediate callbacks are not delayed", async () => {
      expect(tickMode()).toBe("sleep");
      const before = sleptTicks();
      await engine.runAttempt({ seed: freshSeed(), sizes: { m: 128, n: 128, k: 128, batch: 1 } });
      expect(sleptTicks()).toBeGreaterThan(before);
      expect(routedThroughTimer(() => {})).toBe(false);
      expect(routedThroughTimer(Math.max)).toBe(true); // native, like dawn.node's tick
      let ran = false;
      await new Promise<void>((resolve) =>
        setImmediate(() => {
          ran = true;
          resolve();
        }),
      );
      expect(ran).toBe(true);
    });
  });
}
