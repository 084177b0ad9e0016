/**
 * Pure parts of the Dawn glue: the software-adapter refusal and its opt-in, and the sleeping
 * tick (which callbacks go through a timer, and when). No GPU needed.
 */
import { afterEach, describe, expect, it } from "vitest";
import { adapterProblem, softwareGpuAllowed } from "../../src/engine/gpu/dawn";
import { SPIN_WINDOW_MS, expectShortWait, setTickMode, sleptTicks, tickMode } from "../../src/engine/gpu/ticks";

const adapter = (info: Partial<GPUAdapterInfo>): GPUAdapter => ({ info: { vendor: "", architecture: "", description: "", isFallbackAdapter: false, ...info } }) as unknown as GPUAdapter;

describe("software adapters on the gpu backend", () => {
  const lavapipe = adapter({ vendor: "mesa", architecture: "software", description: "llvmpipe: Mesa 25.0.7", isFallbackAdapter: true });

  it("are refused by default, with the opt-in named in the reason", () => {
    expect(adapterProblem("gpu", lavapipe, false)).toMatch(/fallback \(software\) adapter \(TOPS_ALLOW_SOFTWARE_GPU=1 allows it\)/);
    expect(adapterProblem("gpu", adapter({ vendor: "google", description: "SwiftShader Device" }), false)).toMatch(/software renderer/);
  });

  it("are taken only with TOPS_ALLOW_SOFTWARE_GPU=1", () => {
    expect(softwareGpuAllowed({})).toBe(false);
    expect(softwareGpuAllowed({ TOPS_ALLOW_SOFTWARE_GPU: "0" })).toBe(false);
    expect(softwareGpuAllowed({ TOPS_ALLOW_SOFTWARE_GPU: "true" })).toBe(false);
    expect(softwareGpuAllowed({ TOPS_ALLOW_SOFTWARE_GPU: "1" })).toBe(true);
    expect(adapterProblem("gpu", lavapipe, true)).toBeNull();
  });

  it("hardware adapters and the gl backend need no opt-in", () => {
    expect(adapterProblem("gpu", adapter({ vendor: "nvidia", architecture: "hopper", description: "NVIDIA H200" }), false)).toBeNull();
    expect(adapterProblem("gl", lavapipe, false)).toBeNull();
  });
});

describe("sleeping tick", () => {
  afterEach(() => setTickMode("sleep"));

  it("sends native callbacks through a timer, except right after a submit; spin restores setImmediate", async () => {
    setTickMode("spin");
    const real = globalThis.setImmediate;
    setTickMode("sleep");
    expect(tickMode()).toBe("sleep");
    expect(globalThis.setImmediate).not.toBe(real);

    const run = (fn: () => void): Promise<void> => new Promise<void>((resolve) => void globalThis.setImmediate(() => resolve(fn())));
    // A native function stands in for dawn.node's tick; bound so it is callable with no arguments.
    const nativeTick = Math.random.bind(null) as unknown as () => void;
    expect(Function.prototype.toString.call(nativeTick)).toContain("[native code]");

    const before = sleptTicks();
    await new Promise<void>((resolve) => {
      globalThis.setImmediate(nativeTick);
      globalThis.setImmediate(() => resolve());
    });
    expect(sleptTicks()).toBe(before + 1);

    expectShortWait();
    globalThis.setImmediate(nativeTick);
    expect(sleptTicks()).toBe(before + 1); // inside the spin window: the real setImmediate
    await new Promise((r) => setTimeout(r, SPIN_WINDOW_MS + 2));
    globalThis.setImmediate(nativeTick);
    expect(sleptTicks()).toBe(before + 2);

    await run(() => {}); // JavaScript callbacks: never counted
    expect(sleptTicks()).toBe(before + 2);

    setTickMode("spin");
    expect(globalThis.setImmediate).toBe(real);
    expect(tickMode()).toBe("spin");
  });
});
