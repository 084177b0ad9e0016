import { attemptOps, type Sizes } from "@tops/protocol";
import { describe, expect, it } from "vitest";
import { Autotuner, AutotunedRunner, DEFAULT_PRESETS, GpuError, type AttemptResult, type Engine } from "../../src/engine";

/** A device doing `gops` billion ops per second plus a fixed overhead per attempt. */
const device = (gops: number, overheadMs = 2) => (s: Sizes) => attemptOps(s) / (gops * 1e6) + overheadMs;

const cube = (d: number): Sizes => ({ m: d, n: d, k: d, batch: 1 });

describe("Autotuner", () => {
  it.each([
    [0.3, 300], // TypeScript reference
    [6, 300], // llvmpipe
    [40_000, 300], // a datacenter GPU
    [6, 50],
  ])("settles within 2x of the target (%s GOPS, target %s ms)", async (gops, targetMs) => {
    const time = device(gops);
    const tuner = new Autotuner({ presets: DEFAULT_PRESETS, targetMs });
    const calls: Sizes[] = [];
    const sizes = await tuner.tune(async (s) => {
      calls.push(s);
      return time(s);
    });
    expect(tuner.phase).toBe("settled");
    const ms = time(sizes);
    // The best preset is at most a factor 2 (preset spacing) away; overhead can only push it lower.
    const best = Math.min(...DEFAULT_PRESETS.map((p) => Math.abs(Math.log(time(p) / targetMs))));
    expect(Math.abs(Math.log(ms / targetMs))).toBeCloseTo(best, 5);
    expect(calls.length).toBeLessThan(40);
  });

  it("never jumps more than maxStep in work from one probe to the next", async () => {
    const tuner = new Autotuner({ presets: DEFAULT_PRESETS, targetMs: 300, maxStep: 8 });
    const seen: number[] = [];
    await tuner.tune(async (s) => {
      seen.push(attemptOps(s));
      return device(40_000)(s);
    });
    for (let i = 1; i < seen.length; i++) expect(seen[i]! / seen[i - 1]!).toBeLessThanOrEqual(8);
  });

  it("re-tunes when the median of recent attempts drifts more than 2x", async () => {
    const lines: string[] = [];
    const tuner = new Autotuner({ presets: DEFAULT_PRESETS, targetMs: 300, window: 4, log: (l) => lines.push(l) });
    let gops = 6;
    const first = await tuner.tune(async (s) => device(gops)(s));
    // Small noise does not move it.
    for (let i = 0; i < 10; i++) tuner.record(first, device(gops)(first) * (i % 2 ? 1.3 : 0.8));
    expect(tuner.phase).toBe("settled");
    expect(tuner.next()).toEqual(first);
    // The device gets 5x slower (thermal throttling, a co-tenant): after `window` attempts it re-tunes.
    gops = 1.2;
    for (let i = 0; i < 4; i++) tuner.record(first, device(gops)(first));
    expect(tuner.phase).toBe("probing");
    expect(lines.some((l) => l.includes("re-tuning"))).toBe(true);
    const second = await tuner.tune(async (s) => device(gops)(s));
    expect(attemptOps(second)).toBeLessThan(attemptOps(first));
    expect(device(gops)(second)).toBeLessThan(600);
  });

  it("does not re-tune when the largest preset is still too fast (nothing bigger to pick)", async () => {
    const lines: string[] = [];
    const presets = [cube(64), cube(128), cube(256)];
    const tuner = new Autotuner({ presets, targetMs: 300, window: 4, log: (l) => lines.push(l) });
    const chosen = await tuner.tune(async (s) => device(6)(s));
    expect(chosen).toEqual(cube(256));
    lines.length = 0;
    for (let i = 0; i < 40; i++) tuner.record(chosen, device(6)(chosen));
    expect(tuner.phase).toBe("settled");
    expect(lines.filter((l) => l.includes("re-tuning"))).toEqual([]);
  });

  it("uses the fixed sizes when disabled and ignores timings", () => {
    const tuner = new Autotuner({ presets: DEFAULT_PRESETS, targetMs: 300, disabled: true, fixedSizes: cube(777) });
    expect(tuner.phase).toBe("fixed");
    tuner.record(cube(777), 1e9);
    expect(tuner.next()).toEqual(cube(777));
  });

  it("skips the untimed warm-up run and ignores timings for other sizes", () => {
    const tuner = new Autotuner({ presets: [cube(64), cube(128)], targetMs: 10, samples: 1 });
    const s = tuner.next();
    tuner.record(cube(999), 5); // not the current sizes
    tuner.record(s, 10_000); // warm-up: compilation etc., not a measurement
    expect(tuner.phase).toBe("probing");
    tuner.record(s, 10);
    expect(tuner.phase).toBe("settled");
    expect(tuner.next()).toEqual(cube(64));
  });

  it("bans presets the engine refuses and moves to a smaller one", async () => {
    const tuner = new Autotuner({ presets: [cube(256), cube(512), cube(1024)], targetMs: 300 });
    const sizes = await tuner.tune(async (s) => device(10)(s));
    expect(sizes).toEqual(cube(1024));
    tuner.reject(cube(1024));
    const again = await tuner.tune(async (s) => device(10)(s));
    expect(again).toEqual(cube(512));
  });

  it("refuses an empty preset list and a bad target", () => {
    expect(() => new Autotuner({ presets: [], targetMs: 300 })).toThrow(RangeError);
    expect(() => new Autotuner({ presets: DEFAULT_PRESETS, targetMs: 0 })).toThrow(RangeError);
  });
});

describe("AutotunedRunner", () => {
  /** An engine that takes the device model's time and refuses sizes above `maxSide`. */
  function fakeEngine(gops: number, maxSide = Infinity): Engine & { runs: Sizes[] } {
    const runs: Sizes[] = [];
    return {
      backend: "cpu",
      adapter: { vendor: "test", architecture: "", description: "" },
      driverHint: "test",
      kernelVer: "test",
      selection: [],
      runs,
      async runAttempt({ sizes }): Promise<AttemptResult> {
        runs.push(sizes);
        if (sizes.m > maxSide) throw new GpuError("out-of-memory", "too big");
        return { workRoot: new Uint8Array(32), leaves: new Uint8Array(32 * sizes.m * sizes.batch), wallMs: device(gops)(sizes), variant: "fake" };
      },
      async destroy() {},
    };
  }

  it("feeds attempt times to the tuner until it settles", async () => {
    const engine = fakeEngine(6);
    const runner = new AutotunedRunner(engine, { disabled: false, targetMs: 300, presets: DEFAULT_PRESETS, fixedSizes: DEFAULT_PRESETS[0]! });
    for (let i = 0; i < 40 && runner.tuner.phase !== "settled"; i++) await runner.run(new Uint8Array(32));
    expect(runner.tuner.phase).toBe("settled");
    const r = await runner.run(new Uint8Array(32));
    expect(r.wallMs).toBeGreaterThan(150);
    expect(r.wallMs).toBeLessThan(600);
    expect(r.sizes).toEqual(runner.sizes);
  });

  it("retries at a smaller preset when the engine runs out of memory", async () => {
    const engine = fakeEngine(40_000, 2048);
    const runner = new AutotunedRunner(engine, { disabled: false, targetMs: 300, presets: DEFAULT_PRESETS, fixedSizes: DEFAULT_PRESETS[0]! });
    for (let i = 0; i < 60 && runner.tuner.phase !== "settled"; i++) await runner.run(new Uint8Array(32));
    expect(runner.sizes.m).toBeLessThanOrEqual(2048);
  });

  it("ignores attempts the engine flags as variant exploration", async () => {
    const engine = fakeEngine(6);
    const explore = engine.runAttempt.bind(engine);
    engine.runAttempt = async (input) => ({ ...(await explore(input)), wallMs: 1e6, exploring: true });
    const runner = new AutotunedRunner(engine, { disabled: false, targetMs: 300, presets: DEFAULT_PRESETS, fixedSizes: DEFAULT_PRESETS[0]! });
    const first = runner.sizes;
    for (let i = 0; i < 10; i++) await runner.run(new Uint8Array(32));
    expect(runner.tuner.phase).toBe("probing");
    expect(runner.sizes).toEqual(first);
  });

  it("does not retry when tuning is disabled", async () => {
    const engine = fakeEngine(1, 10);
    const runner = new AutotunedRunner(engine, { disabled: true, targetMs: 300, presets: DEFAULT_PRESETS, fixedSizes: cube(64) });
    await expect(runner.run(new Uint8Array(32))).rejects.toBeInstanceOf(GpuError);
    expect(engine.runs).toHaveLength(1);
  });
});
