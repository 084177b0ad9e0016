/**
 * The CPU backend: the protocol's TypeScript reference itself. It is the last fallback and
 * the oracle the GPU variants are checked against, so it must stay a thin call into
 * @tops/protocol rather than a re-implementation.
 */
import { computeY2, merkleRoot, rowLeaves } from "@tops/protocol";
import { cpuDescription, toDriverHint } from "./hint";
import type { AttemptInput, AttemptResult, Engine } from "./types";

export const CPU_KERNEL_VER = "ts-ref/1";

export function createCpuEngine(selection: readonly string[] = []): Engine {
  const adapter = { vendor: "cpu", architecture: process.arch, description: cpuDescription() };
  let destroyed = false;
  return {
    backend: "cpu",
    adapter,
    driverHint: toDriverHint(["cpu", adapter.architecture, adapter.description]),
    kernelVer: CPU_KERNEL_VER,
    selection,
    async runAttempt({ seed, sizes, returnY2 }: AttemptInput): Promise<AttemptResult> {
      if (destroyed) throw new Error("engine destroyed");
      if (seed.length !== 32) throw new RangeError(`seed must be 32 bytes, got ${seed.length}`);
      const t0 = performance.now();
      const y2 = computeY2(seed, sizes);
      const leaves = rowLeaves(sizes, y2);
      const root = merkleRoot(leaves);
      const wallMs = performance.now() - t0;
      return { workRoot: root, leaves, ...(returnY2 ? { y2 } : {}), wallMs, variant: "ts-ref" };
    },
    async destroy(): Promise<void> {
      destroyed = true;
    },
  };
}
