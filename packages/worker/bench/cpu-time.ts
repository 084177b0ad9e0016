/**
 * CPU time over a stretch of work: the whole process (process.cpuUsage: every thread, so on
 * lavapipe/llvmpipe also the threads doing the "GPU" work) and the calling thread alone
 * (Linux /proc/thread-self/schedstat, nanoseconds): the thread that waits for the GPU.
 */
import { readFileSync } from "node:fs";

export interface CpuSample {
  readonly processMs: number;
  /** null where /proc/thread-self is missing (not Linux). */
  readonly threadMs: number | null;
}

export function threadCpuMs(): number | null {
  try {
    return Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[0]) / 1e6;
  } catch {
    return null;
  }
}

export function cpuSampler(): { stop(): CpuSample } {
  const p0 = process.cpuUsage();
  const t0 = threadCpuMs();
  return {
    stop(): CpuSample {
      const p = process.cpuUsage(p0);
      const t1 = threadCpuMs();
      return { processMs: (p.user + p.system) / 1000, threadMs: t0 === null || t1 === null ? null : t1 - t0 };
    },
  };
}
