/**
 * Backend selection: `auto` tries gpu, then gl, then cpu, and keeps one line per backend
 * saying why it was skipped or that it was chosen. An explicitly requested backend that cannot
 * start fails with a clear GpuError instead of silently running somewhere slower.
 */
import { createCpuEngine } from "./cpu";
import { GpuError, toGpuError } from "./errors";
import type { Engine, EngineOptions, EngineBackend } from "./types";

const ORDER: readonly EngineBackend[] = ["gpu", "gl", "cpu"];

export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  const log = options.log ?? (() => {});
  const wanted = options.backend ?? "auto";
  const order = wanted === "auto" ? ORDER : [wanted];
  const selection: string[] = [];
  let lastError: GpuError | undefined;
  for (const backend of order) {
    if (backend === "cpu") {
      selection.push("cpu: chosen (TypeScript reference)");
      log(selection[selection.length - 1]!);
      return createCpuEngine(selection);
    }
    try {
      // Imported here so a machine where dawn.node cannot load still gets the CPU backend.
      const { GpuEngine } = await import("./gpu/engine");
      const engine = await GpuEngine.create({
        kind: backend,
        log,
        ...(options.variant !== undefined ? { variant: options.variant } : {}),
        ...(options.poison !== undefined ? { poison: options.poison } : {}),
        ...(options.hashOn !== undefined ? { hashOn: options.hashOn } : {}),
        ...(options.skipSelfCheck !== undefined ? { skipSelfCheck: options.skipSelfCheck } : {}),
      });
      selection.push(`${backend}: chosen (${engine.driverHint})`);
      engine.selection = selection;
      log(selection[selection.length - 1]!);
      return engine;
    } catch (e) {
      lastError = toGpuError(e, backend, "unsupported");
      const line = lastError.message.startsWith(`${backend}:`) ? lastError.message : `${backend}: ${lastError.message}`;
      selection.push(line);
      log(wanted === "auto" ? `${line}; trying the next backend` : line);
    }
  }
  throw lastError ?? new GpuError("unsupported", `backend ${wanted} is not available`);
}
