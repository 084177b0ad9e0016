/**
 * Engine settings from the environment. Every variable is optional; a present but malformed
 * one is refused with an EngineConfigError naming it, never silently replaced by a default.
 */
import { sizesProblem, type Sizes } from "@tops/protocol";
import { envBool, envEnum, envNumber, envString, type Env } from "@tops/env";
import { EngineConfigError } from "./errors";
import type { BackendChoice } from "./types";

export interface AutotuneConfig {
  /** AUTOTUNE_DISABLE=1: always run `fixedSizes`. */
  readonly disabled: boolean;
  /** AUTOTUNE_TARGET_MS: wall time one attempt should take. */
  readonly targetMs: number;
  /** AUTOTUNE_PRESETS, or DEFAULT_PRESETS; the tuner sorts them by work. */
  readonly presets: readonly Sizes[];
  /** AUTOTUNE_SIZES, or the first preset: the sizes used when tuning is disabled. */
  readonly fixedSizes: Sizes;
}

export interface EngineConfig {
  /** TOPS_BACKEND=auto|gpu|gl|cpu. */
  readonly backend: BackendChoice;
  /** TOPS_VARIANT: force a kernel variant (name or family prefix); unset picks the fastest. */
  readonly variant: string | undefined;
  readonly autotune: AutotuneConfig;
  /** ENGINE_THREAD (default 1): run the engine in a worker thread so attempts never block the event loop. */
  readonly thread: boolean;
}

export const DEFAULT_TARGET_MS = 300;

const cube = (d: number): Sizes => ({ m: d, n: d, k: d, batch: 1 });

/**
 * Cubes whose work grows by about 2× from one to the next (side × 2^(1/3)), so some preset
 * lands within the re-tune band around any target: from a few GOPS (llvmpipe) to tens of
 * TOPS (a datacenter GPU at 300 ms).
 */
export const DEFAULT_PRESETS: readonly Sizes[] = [
  256, 320, 384, 512, 640, 768, 1024, 1280, 1536, 2048, 2560, 3072, 4096, 5120, 6144, 8192, 10240, 12288,
].map(cube);

const BACKENDS: readonly BackendChoice[] = ["auto", "gpu", "gl", "cpu"];

/** "m,n,k" (batch 1) or "m,n,k,batch", each a positive integer within the protocol's bounds. */
export function parseSizes(text: string, variable: string): Sizes {
  const parts = text.split(",").map((p) => p.trim());
  if (parts.length !== 3 && parts.length !== 4) {
    throw new EngineConfigError(variable, `"${text}" is not m,n,k (or m,n,k,batch)`);
  }
  const nums = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : Number.NaN));
  if (nums.some((v) => !Number.isSafeInteger(v))) {
    throw new EngineConfigError(variable, `"${text}" must hold positive integers only`);
  }
  const [m, n, k, batch = 1] = nums as [number, number, number, number?];
  const sizes: Sizes = { m, n, k, batch };
  const problem = sizesProblem(sizes);
  if (problem) throw new EngineConfigError(variable, `"${text}": ${problem}`);
  return sizes;
}

/** "512,512,512;1024,1024,1024": one or more sizes separated by ';' (a trailing ';' is fine). */
export function parsePresets(text: string, variable = "AUTOTUNE_PRESETS"): Sizes[] {
  const entries = text.split(";").map((e) => e.trim());
  if (entries.length > 1 && entries[entries.length - 1] === "") entries.pop();
  if (entries.length === 0 || entries.some((e) => e === "")) {
    throw new EngineConfigError(variable, `"${text}" must be sizes separated by ';', e.g. "512,512,512;1024,1024,1024"`);
  }
  return entries.map((e) => parseSizes(e, variable));
}

export function autotuneConfigFromEnv(env: Env): AutotuneConfig {
  const presetsText = envString(env, "AUTOTUNE_PRESETS");
  const sizesText = envString(env, "AUTOTUNE_SIZES");
  const presets = presetsText !== undefined ? parsePresets(presetsText) : [...DEFAULT_PRESETS];
  return {
    disabled: envBool(env, "AUTOTUNE_DISABLE", false),
    targetMs: envNumber(env, "AUTOTUNE_TARGET_MS", DEFAULT_TARGET_MS, 1, 600_000),
    presets,
    fixedSizes: sizesText !== undefined ? parseSizes(sizesText, "AUTOTUNE_SIZES") : presets[0]!,
  };
}

/** Everything the engine reads from the environment; throws EngineConfigError on a bad value. */
export function engineConfigFromEnv(env: Env = process.env): EngineConfig {
  return {
    backend: envEnum(env, "TOPS_BACKEND", BACKENDS, "auto"),
    variant: envString(env, "TOPS_VARIANT"),
    autotune: autotuneConfigFromEnv(env),
    thread: envBool(env, "ENGINE_THREAD", true),
  };
}
