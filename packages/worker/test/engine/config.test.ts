import { describe, expect, it } from "vitest";
import { DEFAULT_PRESETS, DEFAULT_TARGET_MS, EngineConfigError, engineConfigFromEnv, parsePresets } from "../../src/engine";

describe("engineConfigFromEnv", () => {
  it("defaults with an empty environment", () => {
    const c = engineConfigFromEnv({});
    expect(c.backend).toBe("auto");
    expect(c.variant).toBeUndefined();
    expect(c.autotune.disabled).toBe(false);
    expect(c.autotune.targetMs).toBe(DEFAULT_TARGET_MS);
    expect(c.autotune.presets).toEqual(DEFAULT_PRESETS);
    expect(c.autotune.fixedSizes).toEqual(DEFAULT_PRESETS[0]);
  });

  it("reads every variable", () => {
    const c = engineConfigFromEnv({
      TOPS_BACKEND: " GL ",
      TOPS_VARIANT: "f32",
      AUTOTUNE_DISABLE: "1",
      AUTOTUNE_TARGET_MS: "150",
      AUTOTUNE_PRESETS: "512,512,512; 1024,1024,1024;",
      AUTOTUNE_SIZES: "64,80,100,2",
    });
    expect(c.backend).toBe("gl");
    expect(c.variant).toBe("f32");
    expect(c.autotune).toEqual({
      disabled: true,
      targetMs: 150,
      presets: [
        { m: 512, n: 512, k: 512, batch: 1 },
        { m: 1024, n: 1024, k: 1024, batch: 1 },
      ],
      fixedSizes: { m: 64, n: 80, k: 100, batch: 2 },
    });
  });

  it("uses the first preset as the fixed sizes when AUTOTUNE_SIZES is unset", () => {
    expect(engineConfigFromEnv({ AUTOTUNE_PRESETS: "300,200,100" }).autotune.fixedSizes).toEqual({ m: 300, n: 200, k: 100, batch: 1 });
  });

  it.each([
    ["TOPS_BACKEND", "vulkan"],
    ["AUTOTUNE_DISABLE", "maybe"],
    ["AUTOTUNE_TARGET_MS", "fast"],
    ["AUTOTUNE_TARGET_MS", "-5"],
    ["AUTOTUNE_PRESETS", "512,512"],
    ["AUTOTUNE_PRESETS", "512,512,512;;1024,1024,1024"],
    ["AUTOTUNE_PRESETS", "512,abc,512"],
    ["AUTOTUNE_PRESETS", "0,512,512"],
    ["AUTOTUNE_PRESETS", "512,512,70000"],
    ["AUTOTUNE_PRESETS", "1.5,2,3"],
    ["AUTOTUNE_SIZES", "1,2,3,4,5"],
  ])("refuses %s=%j with an error naming the variable", (variable, value) => {
    let err: unknown;
    try {
      engineConfigFromEnv({ [variable]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EngineConfigError);
    expect((err as EngineConfigError).variable).toBe(variable);
    expect((err as Error).message.startsWith(`${variable}: `)).toBe(true);
    expect((err as Error).message).not.toContain("\n");
  });

  it("parsePresets keeps order and batch", () => {
    expect(parsePresets("8,8,8,4;16,16,16")).toEqual([
      { m: 8, n: 8, k: 8, batch: 4 },
      { m: 16, n: 16, k: 16, batch: 1 },
    ]);
  });
});
