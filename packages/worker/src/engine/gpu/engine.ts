/**
 * The GPU engine (backends "gpu" and "gl"): one Dawn instance, one device at a time, kernel
 * variants checked bit for bit against the reference before first use and timed per size,
 * and a new device whenever the old one is lost.
 */
import { assertSizes, computeY2, merkleRoot, rowLeaves, type Sizes } from "@tops/protocol";
import { randomBytes } from "node:crypto";
import { sizesLabel } from "../autotune";
import { VariantChooser } from "../chooser";
import { GpuError, MismatchError, errorText, firstLine, toGpuError } from "../errors";
import { toDriverHint } from "../hint";
import type { AdapterSummary, AttemptInput, AttemptResult, Engine } from "../types";
import { nativeBackend, openAdapter, requestAdapter, summarize, type GpuBackendKind } from "./dawn";
import { GpuContext } from "./device";
import { AttemptRunner } from "./runner";
import { selectVariants, type Variant } from "./variants";

/** Goes into receipts as kernel_ver; bump when any kernel's output could change. */
export const GPU_KERNEL_VER = "webgpu-int8/1";

export interface GpuEngineOptions {
  readonly kind: GpuBackendKind;
  readonly log?: (line: string) => void;
  /** Variant name or family to force; default: every automatic one, fastest wins. */
  readonly variant?: string;
  readonly poison?: boolean;
  readonly hashOn?: "gpu" | "cpu";
  readonly skipSelfCheck?: boolean;
  readonly selection?: readonly string[];
}

/** Start-up check sizes: odd everything, batch > 1, k past the f32 kernel's 1024-element flush. */
export const CHECK_SIZES: readonly Sizes[] = [
  { m: 7, n: 9, k: 13, batch: 3 },
  { m: 40, n: 70, k: 1030, batch: 1 },
];

/** Aligned check sizes for variants that need multiples of their shape. */
function checkSizesFor(v: Variant): Sizes[] {
  const plain = CHECK_SIZES.filter((s) => v.unsupportedSizes(s) === null);
  if (plain.length) return plain;
  const m = v.name.match(/(\d+)x(\d+)x(\d+)$/);
  if (!m) return [];
  const [M, N, K] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
  const lcm = (a: number, b: number): number => (a * b) / gcd(a, b);
  return [{ m: 2 * M, n: 2 * lcm(N, K), k: 3 * K, batch: 1 }];
}

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

export class GpuEngine implements Engine {
  readonly backend: GpuBackendKind;
  readonly adapter: AdapterSummary;
  readonly driverHint: string;
  readonly kernelVer = GPU_KERNEL_VER;
  selection: readonly string[];
  private gpu: GPU | null;
  private ctx: GpuContext | null;
  private runner: AttemptRunner | null;
  private readonly variants: Map<string, Variant>;
  private readonly chooser: VariantChooser;
  private readonly verified = new Map<string, Promise<void>>();
  private readonly log: (line: string) => void;
  private chain: Promise<unknown> = Promise.resolve();
  private needsRecreate = false;
  private destroyed = false;

  private constructor(
    private readonly opts: GpuEngineOptions,
    gpu: GPU,
    ctx: GpuContext,
    adapter: AdapterSummary,
    variants: Variant[],
  ) {
    this.backend = opts.kind;
    this.log = opts.log ?? (() => {});
    this.gpu = gpu;
    this.ctx = ctx;
    this.runner = new AttemptRunner(ctx);
    this.adapter = adapter;
    this.selection = opts.selection ?? [];
    const api = opts.kind === "gl" ? "dawn-opengles" : `dawn-${nativeBackend()}`;
    this.driverHint = toDriverHint([api, adapter.vendor, adapter.architecture, adapter.description]);
    this.variants = new Map(variants.map((v) => [v.name, v]));
    this.chooser = new VariantChooser(
      variants.map((v) => v.name),
      { log: (l) => this.log(`${this.backend}: ${l}`) },
    );
  }

  /** Opens the adapter and device, and proves one variant exact before returning. */
  static async create(opts: GpuEngineOptions): Promise<GpuEngine> {
    const log = opts.log ?? (() => {});
    const { gpu, adapter } = await openAdapter(opts.kind);
    const summary = summarize(adapter);
    const ctx = await GpuContext.create(adapter, gpu.wgslLanguageFeatures, log, opts.kind);
    const { usable, skipped } = selectVariants(ctx.caps, opts.variant);
    for (const s of skipped) log(`${opts.kind}: variant ${s}`);
    if (usable.length === 0) {
      ctx.destroy();
      const what = opts.variant ? `variant "${opts.variant}" is unknown or cannot run here` : "no kernel variant can run here";
      throw new GpuError("unsupported", `${opts.kind}: ${what}${skipped.length ? ` (${skipped.join("; ")})` : ""}`);
    }
    const untested = usable.filter((v) => !v.testedOnHardware).map((v) => v.name);
    if (untested.length) log(`${opts.kind}: variants not yet tested on hardware, used only once they match the reference: ${untested.join(", ")}`);
    const engine = new GpuEngine(opts, gpu, ctx, { vendor: summary.vendor, architecture: summary.architecture, description: summary.description }, usable);
    try {
      await engine.startupCheck();
    } catch (e) {
      await engine.destroy();
      throw e;
    }
    return engine;
  }

  /** The live device: for tests and fault injection (destroying it simulates a device loss). */
  currentDevice(): GPUDevice | undefined {
    return this.ctx?.device;
  }

  /** Names of the variants still in use (the ones that passed or have yet to take their check). */
  get usableVariants(): string[] {
    return this.chooser.usable;
  }

  runAttempt(input: AttemptInput): Promise<AttemptResult> {
    const run = this.chain.then(() => this.attempt(input));
    this.chain = run.catch(() => {});
    return run;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.release();
    this.gpu = null; // the instance itself stays cached in dawn.ts (dropping it can crash dawn.node)
    await this.chain;
  }

  private release(): void {
    try {
      this.runner?.destroy();
    } finally {
      this.ctx?.destroy();
      this.runner = null;
      this.ctx = null;
    }
  }

  /** Checks variants in preference order until one is exact; the others are checked on first use. */
  private async startupCheck(): Promise<void> {
    if (this.opts.skipSelfCheck) return;
    for (const name of this.chooser.usable) {
      try {
        await this.verify(this.variants.get(name)!);
        return;
      } catch (e) {
        const g = toGpuError(e, `${this.backend}: self-check of ${name}`);
        if (g.class === "device-lost") throw g;
        this.chooser.drop(name, g.message);
      }
    }
    throw new GpuError("unsupported", `${this.backend}: no kernel variant passed the bit-exactness check`);
  }

  /** Runs `v` at small odd sizes with poisoned outputs and compares y2 and work_root with the reference. */
  private verify(v: Variant): Promise<void> {
    let p = this.verified.get(v.name);
    if (!p) {
      p = this.check(v);
      this.verified.set(v.name, p);
      // A check cut short by a device loss says nothing about the variant: retry it later.
      p.catch((e: unknown) => {
        if (toGpuError(e, "").class === "device-lost") this.verified.delete(v.name);
      });
    }
    return p;
  }

  private async check(v: Variant): Promise<void> {
    if (this.opts.skipSelfCheck) return;
    const runner = this.runner!;
    for (const sizes of checkSizesFor(v)) {
      const seed = new Uint8Array(randomBytes(32));
      try {
        const got = await runner.run(v, sizes, seed, { returnY2: true, hashOn: this.opts.hashOn ?? "gpu", poison: true });
        const y2 = computeY2(seed, sizes);
        if (!equalBytes(got.y2!, y2)) {
          const at = y2.findIndex((b, i) => b !== got.y2![i]);
          throw new MismatchError(`${v.name} differs from the reference at ${sizesLabel(sizes)}, byte ${at}: ${got.y2![at]} != ${y2[at]}`);
        }
        const leaves = rowLeaves(sizes, y2);
        if (!equalBytes(got.leaves, leaves)) throw new MismatchError(`${v.name}: row leaves differ from the reference at ${sizesLabel(sizes)}`);
        if (!equalBytes(got.workRoot, merkleRoot(leaves))) throw new MismatchError(`${v.name}: work_root differs from the reference at ${sizesLabel(sizes)}`);
      } finally {
        runner.forget(sizes);
      }
    }
  }

  private async ensureDevice(): Promise<void> {
    if (this.ctx && !this.ctx.lost && !this.needsRecreate) return;
    if (!this.gpu) throw new GpuError("device-lost", `${this.backend}: engine destroyed`);
    this.log(`${this.backend}: recreating the GPU device`);
    this.release();
    try {
      const adapter = await requestAdapter(this.gpu, this.backend);
      this.ctx = await GpuContext.create(adapter, this.gpu.wgslLanguageFeatures, this.log, this.backend);
    } catch (e) {
      throw new GpuError("device-lost", `${this.backend}: the GPU device was lost and could not be recreated: ${firstLine(errorText(e))}`, errorText(e), { cause: e });
    }
    this.runner = new AttemptRunner(this.ctx);
    this.needsRecreate = false;
  }

  private async attempt({ seed, sizes, returnY2 }: AttemptInput): Promise<AttemptResult> {
    if (this.destroyed) throw new GpuError("device-lost", `${this.backend}: engine destroyed`);
    assertSizes(sizes);
    if (seed.length !== 32) throw new RangeError(`seed must be 32 bytes, got ${seed.length}`);
    await this.ensureDevice();
    const size = sizesLabel(sizes);
    for (;;) {
      let name: string;
      try {
        name = this.chooser.pick(size, (n) => this.variants.get(n)!.unsupportedSizes(sizes) === null);
      } catch (e) {
        throw new GpuError("unsupported", `${this.backend}: ${errorText(e)}`);
      }
      const v = this.variants.get(name)!;
      const exploring = this.chooser.chosen(size) === undefined;
      try {
        // Self-check, compiles, buffers and weight uploads happen before the clock: time_ms
        // measures the attempt alone, also the first one of a fresh variant or size.
        const hashOn = this.opts.hashOn ?? "gpu";
        await this.verify(v);
        await this.runner!.prepare(v, sizes, hashOn);
        const t0 = performance.now();
        const r = await this.runner!.run(v, sizes, seed, { returnY2: returnY2 === true, hashOn, poison: this.opts.poison === true });
        const wallMs = performance.now() - t0;
        this.chooser.record(size, name, r.gpuMs ?? wallMs);
        return { ...r, wallMs, variant: name, ...(exploring ? { exploring } : {}) };
      } catch (e) {
        const g = toGpuError(e, `${this.backend}: ${size} with ${name}`);
        if (g.class === "device-lost" || this.ctx?.lost) {
          this.needsRecreate = true;
          throw g.class === "device-lost" ? g : new GpuError("device-lost", `${this.backend}: GPU device lost during an attempt (${this.ctx?.lostReason ?? "unknown"})`, g.detail, { cause: g });
        }
        // A kernel that does not build or does not match the reference is retired; try another.
        if (g.class === "validation" || g instanceof MismatchError) {
          this.chooser.drop(name, g.message);
          continue;
        }
        throw g;
      }
    }
  }
}
