/**
 * Buffers of one attempt size on one device, created once and reused by every attempt at that
 * size: weights (uploaded once), the per-layer Dims uniforms, y1/y2, the hash buffers and the
 * read-back staging. The per-attempt upload is the 16-byte key uniform only.
 */
import { GpuError } from "../errors";
import { CHUNK_BYTES } from "./blake3";
import { Usage, type GpuContext } from "./device";
import { dimsWords, hashParamsWords, layoutFor, packedW1, packedW2, type Layout } from "./layout";
import type { PlanBuffers } from "./variants";

/** Uniform slots of the tree levels sit at this offset alignment (minUniformBufferOffsetAlignment ≤ 256). */
export const LEVEL_SLOT = 256;

const MiB = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

export class SizeResources {
  readonly layout: Layout;
  readonly w1: GPUBuffer;
  readonly w2: GPUBuffer;
  readonly y1: GPUBuffer;
  readonly y2: GPUBuffer;
  readonly dims1: GPUBuffer;
  readonly dims2: GPUBuffer;
  readonly key: GPUBuffer;
  readonly hashParams: GPUBuffer;
  readonly msg: GPUBuffer;
  readonly cvA: GPUBuffer;
  readonly cvB: GPUBuffer;
  readonly levels: GPUBuffer | undefined;
  /** digest (32 B) then the two timestamps (16 B). */
  readonly readback: GPUBuffer;
  private a: GPUBuffer | undefined;
  private acc: GPUBuffer | undefined;
  private y2Staging: GPUBuffer | undefined;
  private poisonBytes: Uint8Array | undefined;

  constructor(private readonly ctx: GpuContext, layout: Layout) {
    this.layout = layout;
    const { sizes, rows, KW, NW, chunks, levels } = layout;
    // Refuse sizes the device cannot bind before allocating anything, with the numbers.
    const biggest = Math.max(sizes.n * KW * 4, rows * KW * 4, layout.outBytes, chunks * CHUNK_BYTES);
    if (biggest > ctx.caps.maxBinding) {
      throw new GpuError("unsupported", `sizes ${sizes.m}x${sizes.n}x${sizes.k}x${sizes.batch} need a ${MiB(biggest)} buffer; this device binds at most ${MiB(ctx.caps.maxBinding)}`);
    }
    const S = Usage.STORAGE;
    this.w1 = ctx.buffer("w1t", sizes.n * KW * 4, S | Usage.COPY_DST);
    this.w2 = ctx.buffer("w2t", sizes.n * NW * 4, S | Usage.COPY_DST);
    this.y1 = ctx.buffer("y1", layout.outBytes, S | Usage.COPY_DST);
    this.y2 = ctx.buffer("y2", layout.outBytes, S | Usage.COPY_SRC | Usage.COPY_DST);
    this.dims1 = ctx.buffer("dims1", 32, Usage.UNIFORM | Usage.COPY_DST);
    this.dims2 = ctx.buffer("dims2", 32, Usage.UNIFORM | Usage.COPY_DST);
    this.key = ctx.buffer("key", 16, Usage.UNIFORM | Usage.COPY_DST);
    this.hashParams = ctx.buffer("hash-params", 96, Usage.UNIFORM | Usage.COPY_DST);
    this.msg = ctx.buffer("msg", chunks * CHUNK_BYTES, S | Usage.COPY_DST);
    this.cvA = ctx.buffer("cv-a", chunks * 32, S | Usage.COPY_SRC | Usage.COPY_DST);
    this.cvB = ctx.buffer("cv-b", Math.ceil(chunks / 2) * 32, S | Usage.COPY_SRC | Usage.COPY_DST);
    this.levels = levels.length ? ctx.buffer("levels", levels.length * LEVEL_SLOT, Usage.UNIFORM | Usage.COPY_DST) : undefined;
    this.readback = ctx.buffer("readback", 64, Usage.MAP_READ | Usage.COPY_DST);

    const q = ctx.device.queue;
    q.writeBuffer(this.w1, 0, packedW1(sizes));
    q.writeBuffer(this.w2, 0, packedW2(sizes));
    q.writeBuffer(this.dims1, 0, dimsWords(layout, 1));
    q.writeBuffer(this.dims2, 0, dimsWords(layout, 2));
    q.writeBuffer(this.hashParams, 0, hashParamsWords(layout));
    if (this.levels) {
      const slots = new Uint32Array((levels.length * LEVEL_SLOT) / 4);
      levels.forEach((count, i) => (slots[(i * LEVEL_SLOT) / 4] = count));
      q.writeBuffer(this.levels, 0, slots);
    }
  }

  static create(ctx: GpuContext, sizes: Layout["sizes"]): SizeResources {
    return new SizeResources(ctx, layoutFor(sizes));
  }

  /** Buffers a variant binds; A and the i32 accumulators are allocated on first need. */
  planBuffers(needsA: boolean, needsAcc: boolean): PlanBuffers {
    const { rows, KW, NW, sizes } = this.layout;
    if (needsA) this.a ??= this.ctx.buffer("a", rows * KW * 4, Usage.STORAGE | Usage.COPY_DST);
    if (needsAcc && !this.acc) {
      const bytes = rows * sizes.n * 4;
      if (bytes > this.ctx.caps.maxBinding) throw new GpuError("unsupported", `i32 accumulators of ${MiB(bytes)} exceed the ${MiB(this.ctx.caps.maxBinding)} binding limit`);
      this.acc = this.ctx.buffer("acc", bytes, Usage.STORAGE | Usage.COPY_DST);
    }
    return {
      rows,
      n: sizes.n,
      KW,
      NW,
      dims1: this.dims1,
      dims2: this.dims2,
      key: this.key,
      w1: this.w1,
      w2: this.w2,
      y1: this.y1,
      y2: this.y2,
      ...(this.a ? { a: this.a } : {}),
      ...(this.acc ? { acc: this.acc } : {}),
    };
  }

  /** Staging for reading y2 back (CPU hashing, returnY2); allocated on first need. */
  y2ReadBuffer(): GPUBuffer {
    this.y2Staging ??= this.ctx.buffer("y2-staging", this.layout.outBytes, Usage.MAP_READ | Usage.COPY_DST);
    return this.y2Staging;
  }

  /** Fills every intermediate and output with 0xFF: a value no kernel writes (outputs are ≤ 127). */
  poison(): void {
    const targets = [this.y1, this.y2, this.msg, this.cvA, this.cvB, this.a, this.acc].filter((b): b is GPUBuffer => b !== undefined);
    const max = Math.max(...targets.map((b) => b.size));
    if (!this.poisonBytes || this.poisonBytes.length < max) this.poisonBytes = new Uint8Array(max).fill(0xff);
    for (const b of targets) this.ctx.device.queue.writeBuffer(b, 0, this.poisonBytes, 0, b.size);
  }

  destroy(): void {
    for (const b of [this.w1, this.w2, this.y1, this.y2, this.dims1, this.dims2, this.key, this.hashParams, this.msg, this.cvA, this.cvB, this.levels, this.readback, this.a, this.acc, this.y2Staging]) {
      this.ctx.release(b);
    }
    this.a = this.acc = this.y2Staging = undefined;
  }
}
