/**
 * Loading dawn.node (npm "webgpu") and opening an adapter for the "gpu" or "gl" backend.
 *
 * The addon is imported lazily so the CPU backend, the config and the autotuner work on
 * machines where it cannot load. Dawn's globals are not installed on globalThis (only the
 * setImmediate of ticks.ts is); destroying the device is what lets Node exit.
 */
import { mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { GpuError, firstLine, errorText } from "../errors";
import { printableAscii } from "../hint";
import type { AdapterSummary } from "../types";
import { setTickMode } from "./ticks";

export type GpuBackendKind = "gpu" | "gl";

interface DawnModule {
  create(options: string[]): GPU;
}

let dawn: Promise<DawnModule> | undefined;

/**
 * Imports dawn.node once; a failure is an "unsupported" GpuError with one clear line. Also makes
 * this thread sleep between Dawn's ticks (see ticks.ts); TOPS_DAWN_TICK=spin keeps dawn.node's
 * busy-polling, for the benchmark's before/after.
 */
export function loadDawn(): Promise<DawnModule> {
  dawn ??= import("webgpu").then(
    (m): DawnModule => {
      setTickMode(process.env.TOPS_DAWN_TICK === "spin" ? "spin" : "sleep");
      return { create: m.create };
    },
    (e: unknown) => {
      dawn = undefined;
      throw new GpuError("unsupported", `cannot load the WebGPU addon (npm webgpu / dawn.node): ${firstLine(errorText(e))}`, errorText(e), { cause: e });
    },
  );
  return dawn;
}

/**
 * Mesa's EGL needs a platform without a display server, and warns when XDG_RUNTIME_DIR is
 * missing. Set both (only when unset) before Dawn initializes EGL, so `gl` works with no setup.
 */
export function ensureGlEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  env.EGL_PLATFORM ??= "surfaceless";
  if (env.XDG_RUNTIME_DIR === undefined || env.XDG_RUNTIME_DIR === "") {
    const uid = typeof process.getuid === "function" ? process.getuid() : "user";
    const dir = path.join(os.tmpdir(), `tops-runtime-${uid}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    env.XDG_RUNTIME_DIR = dir;
  }
}

/** Native backend of a hardware GPU on this platform. */
export function nativeBackend(platform: NodeJS.Platform = process.platform): string {
  if (platform === "darwin") return "metal";
  if (platform === "win32") return "d3d12";
  return "vulkan";
}

/**
 * Options for create(): the backend, `allow_unsafe_apis` (the experimental subgroup-matrix
 * feature is behind it) and no timestamp quantization, so timestamp queries measure kernels
 * to the nanosecond instead of in 100 µs steps.
 */
export function dawnOptions(kind: GpuBackendKind): string[] {
  return [
    `backend=${kind === "gl" ? "opengles" : nativeBackend()}`,
    "enable-dawn-features=allow_unsafe_apis",
    "disable-dawn-features=timestamp_quantization",
  ];
}

/** Adapters that are really a CPU: refused by the "gpu" backend (that is what "gl" and "cpu" are for). */
const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|software|microsoft basic render|\bcpu\b/i;

/** dawn.node adds `device` (the GL renderer or PCI name) to GPUAdapterInfo; not in @webgpu/types. */
interface AdapterInfoExtra {
  readonly device?: string;
}

export function summarize(adapter: GPUAdapter): AdapterSummary & { device: string } {
  const info = adapter.info as GPUAdapterInfo & AdapterInfoExtra;
  const device = printableAscii(info.device ?? "");
  const described = printableAscii(info.description ?? "");
  return {
    vendor: printableAscii(info.vendor ?? ""),
    architecture: printableAscii(info.architecture ?? ""),
    description: printableAscii(described && device && !described.includes(device) ? `${described} (${device})` : described || device),
    device,
  };
}

/**
 * TOPS_ALLOW_SOFTWARE_GPU=1 lets the "gpu" backend take a software adapter (lavapipe in CI, to
 * exercise the Vulkan path without a GPU). Never the default: a worker would otherwise run at
 * CPU speed while claiming a GPU.
 */
export function softwareGpuAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.TOPS_ALLOW_SOFTWARE_GPU === "1";
}

/** Why this adapter cannot serve `kind`, or null when it can. */
export function adapterProblem(kind: GpuBackendKind, adapter: GPUAdapter, allowSoftware = softwareGpuAllowed()): string | null {
  if (kind === "gl" || allowSoftware) return null;
  const s = summarize(adapter);
  const optIn = "(TOPS_ALLOW_SOFTWARE_GPU=1 allows it)";
  if (adapter.info.isFallbackAdapter) return `adapter "${s.description}" is a fallback (software) adapter ${optIn}`;
  const text = `${s.vendor} ${s.architecture} ${s.description} ${s.device}`;
  if (SOFTWARE.test(text)) return `adapter "${s.description || s.device}" is a software renderer ${optIn}`;
  return null;
}

export interface OpenedAdapter {
  readonly gpu: GPU;
  readonly adapter: GPUAdapter;
}

/** Requests an adapter from an existing GPU object (also used to recreate after device loss). */
export async function requestAdapter(gpu: GPU, kind: GpuBackendKind): Promise<GPUAdapter> {
  let adapter: GPUAdapter | null;
  try {
    adapter =
      kind === "gl"
        ? await gpu.requestAdapter({ featureLevel: "compatibility" })
        : await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (e) {
    throw new GpuError("unsupported", `${kind}: requestAdapter failed: ${firstLine(errorText(e))}`, errorText(e), { cause: e });
  }
  if (!adapter) {
    const what = kind === "gl" ? "no OpenGL ES adapter (are libegl1, libgles2 and Mesa installed?)" : `no ${nativeBackend()} adapter (no GPU or no ${nativeBackend()} driver)`;
    throw new GpuError("unsupported", `${kind}: ${what}`);
  }
  const problem = adapterProblem(kind, adapter);
  if (problem) throw new GpuError("unsupported", `${kind}: ${problem}`);
  return adapter;
}

/**
 * One Dawn instance per backend kind for the life of the thread. dawn.node crashes (mutex
 * assertions, SIGSEGV) when the garbage collector finalizes a dropped instance while another one
 * is in use — seen in the bundled GPU check after inspectBackend, and under `--expose-gc`. Kept
 * instances cost nothing once their devices are destroyed, and do not keep Node alive.
 */
const instances = new Map<GpuBackendKind, GPU>();

/** Dawn's GPU object for `kind` (created once) and a fresh adapter from it. */
export async function openAdapter(kind: GpuBackendKind): Promise<OpenedAdapter> {
  const { create } = await loadDawn();
  ensureGlEnvironment();
  let gpu = instances.get(kind);
  if (!gpu) {
    try {
      gpu = create(dawnOptions(kind));
    } catch (e) {
      throw new GpuError("unsupported", `${kind}: cannot create the WebGPU instance: ${firstLine(errorText(e))}`, errorText(e), { cause: e });
    }
    instances.set(kind, gpu);
  }
  return { gpu, adapter: await requestAdapter(gpu, kind) };
}
