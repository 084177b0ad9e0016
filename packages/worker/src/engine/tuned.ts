/**
 * Glue between an Engine and the Autotuner: the worker loop calls run(seed) and gets an
 * attempt at the sizes the tuner wants, with its time fed back. Sizes the engine cannot run
 * at all are banned from the presets and the attempt is retried once at the next smaller one.
 */
import { Autotuner } from "./autotune";
import type { AutotuneConfig } from "./config";
import { isGpuError } from "./errors";
import type { AttemptResult, Engine, Sizes } from "./types";

export interface TunedAttemptResult extends AttemptResult {
  readonly sizes: Sizes;
}

export class AutotunedRunner {
  readonly tuner: Autotuner;

  constructor(
    private readonly engine: Engine,
    config: AutotuneConfig,
    log?: (line: string) => void,
  ) {
    this.tuner = new Autotuner({
      presets: config.presets,
      targetMs: config.targetMs,
      disabled: config.disabled,
      fixedSizes: config.fixedSizes,
      ...(log ? { log } : {}),
    });
  }

  /** Sizes the next run() will use. */
  get sizes(): Sizes {
    return this.tuner.next();
  }

  async run(seed: Uint8Array, returnY2 = false): Promise<TunedAttemptResult> {
    for (let tries = 0; ; tries++) {
      const sizes = this.tuner.next();
      try {
        const result = await this.engine.runAttempt({ seed, sizes, returnY2 });
        // Attempts where the engine is still timing kernel variants would skew the size choice.
        if (!result.exploring) this.tuner.record(sizes, result.wallMs);
        return { ...result, sizes };
      } catch (e) {
        const tooBig = isGpuError(e) && (e.class === "out-of-memory" || e.class === "unsupported");
        if (!tooBig || this.tuner.phase === "fixed" || tries >= this.tuner.presets.length) throw e;
        this.tuner.reject(sizes);
      }
    }
  }
}
