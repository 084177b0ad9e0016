/**
 * Attempt engine: runs one attempt of the protocol (seed → y2 → work_root) on a GPU through
 * Dawn (WebGPU), on Dawn's OpenGL ES backend, or on the TypeScript reference. See ENGINE.md.
 */
export { createEngine } from "./select";
export { createThreadedEngine } from "./thread";
export { createCpuEngine, CPU_KERNEL_VER } from "./cpu";
export { Autotuner, sizesLabel, type AutotunerOptions, type AutotunePhase } from "./autotune";
export { AutotunedRunner, type TunedAttemptResult } from "./tuned";
export {
  DEFAULT_PRESETS,
  DEFAULT_TARGET_MS,
  engineConfigFromEnv,
  parsePresets,
  parseSizes,
  type AutotuneConfig,
  type EngineConfig,
} from "./config";
export { EngineConfigError, GpuError, MismatchError, isGpuError, type GpuErrorClass } from "./errors";
export { printableAscii, toDriverHint } from "./hint";
export type {
  AdapterSummary,
  AttemptInput,
  AttemptResult,
  BackendChoice,
  Engine,
  EngineBackend,
  EngineOptions,
  Sizes,
} from "./types";
