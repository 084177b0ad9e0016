/**
 * A WebGPU device with what the engine needs around it: limits raised to the adapter's, the
 * optional features it can use, error scopes turned into typed GpuErrors, loss tracking, and
 * counted buffer creation so tests can prove nothing leaks.
 */
import { GpuError, firstLine, toGpuError, type GpuErrorClass } from "../errors";
import { expectShortWait } from "./ticks";

// Numeric flags from the WebGPU spec; the GPUBufferUsage global only exists if dawn's globals
// are installed on globalThis, which the engine deliberately does not do.
export const Usage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
  QUERY_RESOLVE: 0x0200,
} as const;
export const MAP_READ = 0x0001;

/** Dawn's experimental feature for cooperative matrices; not in @webgpu/types' GPUFeatureName. */
export const SUBGROUP_MATRIX_FEATURE = "chromium-experimental-subgroup-matrix";

/** One entry of adapter.info.subgroupMatrixConfigs (Dawn extension). */
export interface SubgroupMatrixConfig {
  readonly componentType: string;
  readonly resultComponentType: string;
  readonly M: number;
  readonly N: number;
  readonly K: number;
}

export interface DeviceCaps {
  /** WGSL language feature packed_4x8_integer_dot_product (dot4I8Packed). */
  readonly dot4: boolean;
  readonly timestamps: boolean;
  /** WGSL `subgroups` (subgroupAdd, subgroup builtins) is enabled on the device. */
  readonly subgroups: boolean;
  /** i8 × i8 → i32 subgroup-matrix shapes, when the feature could be enabled. */
  readonly subgroupMatrix: readonly SubgroupMatrixConfig[];
  readonly subgroupMaxSize: number;
  readonly maxWorkgroupStorage: number;
  readonly maxInvocations: number;
  readonly maxWorkgroupSizeX: number;
  readonly maxWorkgroupSizeY: number;
  /** Largest buffer a kernel may bind (min of binding size and buffer size limits). */
  readonly maxBinding: number;
}

/** Live GPU buffers created through GpuContext, process-wide: tests assert it returns to 0. */
const ledger = { created: 0, destroyed: 0 };
export function gpuBufferStats(): { created: number; destroyed: number; live: number } {
  return { ...ledger, live: ledger.created - ledger.destroyed };
}

const LIMITS_TO_RAISE = [
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxStorageBufferBindingSize",
  "maxBufferSize",
] as const;

interface AdapterInfoMatrix {
  readonly subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[];
}

export class GpuContext {
  /** Set once the device is lost (or destroyed); the context is then useless. */
  lostReason: string | null = null;
  private readonly uncaptured: { cls: GpuErrorClass; message: string }[] = [];
  private readonly buffers = new Set<GPUBuffer>();
  private destroying = false;

  private constructor(
    readonly device: GPUDevice,
    readonly caps: DeviceCaps,
    private readonly log: (line: string) => void,
    private readonly label: string,
  ) {
    device.lost.then(
      (info) => {
        this.lostReason = `${info.reason}: ${firstLine(info.message)}`;
        if (!this.destroying) this.log(`${this.label}: device lost (${this.lostReason})`);
      },
      () => {},
    );
    device.addEventListener("uncapturederror", (ev) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      this.uncaptured.push({ cls: classOf(err), message: firstLine(err.message) });
    });
  }

  static async create(adapter: GPUAdapter, wgslFeatures: ReadonlySet<string>, log: (line: string) => void, label = "gpu"): Promise<GpuContext> {
    const requiredLimits: Record<string, number> = {};
    for (const name of LIMITS_TO_RAISE) {
      const v = adapter.limits[name];
      if (typeof v === "number") requiredLimits[name] = v;
    }
    const features: string[] = [];
    const timestamps = adapter.features.has("timestamp-query");
    if (timestamps) features.push("timestamp-query");
    const matrixConfigs = ((adapter.info as GPUAdapterInfo & AdapterInfoMatrix).subgroupMatrixConfigs ?? []).filter(
      (c) => c.componentType === "i8" && c.resultComponentType === "i32",
    );
    const subgroups = adapter.features.has("subgroups");
    if (subgroups) features.push("subgroups");
    const matrix = adapter.features.has(SUBGROUP_MATRIX_FEATURE) && subgroups && matrixConfigs.length > 0;
    if (matrix) features.push(SUBGROUP_MATRIX_FEATURE);
    let device: GPUDevice;
    try {
      // Feature names outside @webgpu/types' union are still valid strings for Dawn.
      device = await adapter.requestDevice({ requiredFeatures: features as GPUFeatureName[], requiredLimits });
    } catch (e) {
      throw toGpuError(e, "requestDevice failed", "unsupported");
    }
    const l = device.limits;
    const caps: DeviceCaps = {
      dot4: wgslFeatures.has("packed_4x8_integer_dot_product"),
      timestamps,
      subgroups,
      subgroupMatrix: matrix ? matrixConfigs : [],
      subgroupMaxSize: adapter.info.subgroupMaxSize ?? 0,
      maxWorkgroupStorage: l.maxComputeWorkgroupStorageSize,
      maxInvocations: l.maxComputeInvocationsPerWorkgroup,
      maxWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
      // Capped at 2 GiB so every byte offset the kernels compute fits in a u32.
      maxBinding: Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize, 2 ** 31),
    };
    return new GpuContext(device, caps, log, label);
  }

  get lost(): boolean {
    return this.lostReason !== null;
  }

  /** Creates a buffer and counts it; every one must go back through release(). */
  buffer(label: string, size: number, usage: number): GPUBuffer {
    const b = this.device.createBuffer({ label, size: Math.max(4, Math.ceil(size / 4) * 4), usage });
    ledger.created++;
    this.buffers.add(b);
    return b;
  }

  release(b: GPUBuffer | undefined): void {
    if (!b || !this.buffers.delete(b)) return;
    b.destroy();
    ledger.destroyed++;
  }

  get liveBuffers(): number {
    return this.buffers.size;
  }

  /**
   * Runs `fn` inside validation, out-of-memory and internal error scopes and turns the first
   * error, or a device loss, or an error thrown by `fn`, into a GpuError.
   */
  async scoped<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
    const d = this.device;
    d.pushErrorScope("internal");
    d.pushErrorScope("out-of-memory");
    d.pushErrorScope("validation");
    let value: T | undefined;
    let thrown: unknown;
    let failed = false;
    try {
      value = await fn();
    } catch (e) {
      thrown = e;
      failed = true;
    }
    expectShortWait(); // Dawn answers the pops at its next tick: no need to sleep a timer period
    const scopes = await Promise.allSettled([d.popErrorScope(), d.popErrorScope(), d.popErrorScope()]);
    if (this.lost) throw new GpuError("device-lost", `${what}: GPU device lost (${this.lostReason})`);
    // Our own errors (a kernel that does not build, sizes above a limit) say more than the scope's copy.
    if (failed && thrown instanceof GpuError) throw thrown;
    // Popped innermost first: validation, out-of-memory, internal.
    const classes: GpuErrorClass[] = ["validation", "out-of-memory", "internal"];
    for (const [i, s] of scopes.entries()) {
      if (s.status === "fulfilled" && s.value) {
        throw new GpuError(classes[i]!, `${what}: ${firstLine(s.value.message)}`, s.value.message);
      }
    }
    const stray = this.uncaptured.shift();
    if (stray) {
      this.uncaptured.length = 0;
      throw new GpuError(stray.cls, `${what}: ${stray.message}`);
    }
    if (failed) throw toGpuError(thrown, what);
    return value as T;
  }

  /** Releases every buffer and the device; safe to call more than once, and after loss. */
  destroy(): void {
    this.destroying = true;
    for (const b of [...this.buffers]) this.release(b);
    this.device.destroy();
  }
}

function classOf(err: GPUError): GpuErrorClass {
  const name = err.constructor?.name ?? "";
  if (name.includes("OutOfMemory")) return "out-of-memory";
  if (name.includes("Internal")) return "internal";
  return "validation";
}
