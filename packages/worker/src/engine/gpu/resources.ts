/**
 * Buffers of one attempt size on one device, created once and reused by every attempt at that
 * size: weights (uploaded once), the per-layer Dims uniforms, y1/y2, the leaf and tree buffers
 * of work_root and the read-back staging. The per-attempt upload is the 16-byte key uniform only.
 */
import { GpuError } from "../errors";
import { Usage, type GpuContext } from "./device";
import { dimsWords, layoutFor, leafParamsWords, nodePrefixWords, packedW1, packedW2, type Layout } from "./layout";
import { LEAF_PARAMS_BYTES, TREE_LEVEL_SLOT } from "./merkle";
import type { PlanBuffers } from "./variants";

/** Bytes before the leaves in the read-back buffer: root (32), timestamps (16), padding. */
export const READBACK_LEAVES_AT = 64;

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
  readonly leafParams: GPUBuffer;
  readonly nodePrefix: GPUBuffer;
  /** Chaining values of each row's chunks and of its in-leaf tree levels (rows spanning several chunks). */
  readonly cvA: GPUBuffer | undefined;
  readonly cvB: GPUBuffer | undefined;
  /** One 32-byte leaf per row, read back with the root. */
  readonly leaves: GPUBuffer;
  /** Merkle tree levels above the leaves, ping-pong. */
  readonly nodesA: GPUBuffer;
  readonly nodesB: GPUBuffer;
  /** TreeLevel uniforms: leaf levels first, then tree levels, TREE_LEVEL_SLOT bytes apart. */
  readonly levels: GPUBuffer | undefined;
  /** root (32 B), timestamps (16 B), padding, then the leaves (rows·32 B). */
  readonly readback: GPUBuffer;
  private a: GPUBuffer | undefined;
  private acc: GPUBuffer | undefined;
  private y2Staging: GPUBuffer | undefined;
  private poisonBytes: Uint8Array | undefined;

  constructor(private readonly ctx: GpuContext, layout: Layout) {
    this.layout = layout;
    const { sizes, rows, KW, NW, leafChunks, leafLevels, treeLevels } = layout;
    const cvBytes = rows * leafChunks * 32;
    // Refuse sizes the device cannot bind before allocating anything, with the numbers.
    const biggest = Math.max(sizes.n * KW * 4, rows * KW * 4, layout.outBytes, cvBytes);
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
    this.leafParams = ctx.buffer("leaf-params", LEAF_PARAMS_BYTES, Usage.UNIFORM | Usage.COPY_DST);
    this.nodePrefix = ctx.buffer("node-prefix", 32, Usage.UNIFORM | Usage.COPY_DST);
    this.cvA = leafChunks > 1 ? ctx.buffer("cv-a", cvBytes, S | Usage.COPY_DST) : undefined;
    this.cvB = leafChunks > 1 ? ctx.buffer("cv-b", cvBytes, S | Usage.COPY_DST) : undefined;
    this.leaves = ctx.buffer("leaves", rows * 32, S | Usage.COPY_SRC | Usage.COPY_DST);
    this.nodesA = ctx.buffer("nodes-a", Math.ceil(rows / 2) * 32, S | Usage.COPY_SRC | Usage.COPY_DST);
    this.nodesB = ctx.buffer("nodes-b", Math.ceil(rows / 4) * 32, S | Usage.COPY_SRC | Usage.COPY_DST);
    const levelCount = leafLevels.length + treeLevels.length;
    this.levels = levelCount ? ctx.buffer("levels", levelCount * TREE_LEVEL_SLOT, Usage.UNIFORM | Usage.COPY_DST) : undefined;
    this.readback = ctx.buffer("readback", READBACK_LEAVES_AT + rows * 32, Usage.MAP_READ | Usage.COPY_DST);

    const q = ctx.device.queue;
    q.writeBuffer(this.w1, 0, packedW1(sizes));
    q.writeBuffer(this.w2, 0, packedW2(sizes));
    q.writeBuffer(this.dims1, 0, dimsWords(layout, 1));
    q.writeBuffer(this.dims2, 0, dimsWords(layout, 2));
    q.writeBuffer(this.leafParams, 0, leafParamsWords(layout));
    q.writeBuffer(this.nodePrefix, 0, nodePrefixWords());
    if (this.levels) {
      // TreeLevel: count, rows, stride. Leaf levels run over every row with stride leafChunks.
      const slots = new Uint32Array((levelCount * TREE_LEVEL_SLOT) / 4);
      const put = (i: number, count: number, perRow: boolean): void => slots.set([count, perRow ? rows : 1, perRow ? leafChunks : 0], (i * TREE_LEVEL_SLOT) / 4);
      leafLevels.forEach((count, i) => put(i, count, true));
      treeLevels.forEach((count, i) => put(leafLevels.length + i, count, false));
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
    const targets = [this.y1, this.y2, this.cvA, this.cvB, this.leaves, this.nodesA, this.nodesB, this.a, this.acc].filter((b): b is GPUBuffer => b !== undefined);
    const max = Math.max(...targets.map((b) => b.size));
    if (!this.poisonBytes || this.poisonBytes.length < max) this.poisonBytes = new Uint8Array(max).fill(0xff);
    for (const b of targets) this.ctx.device.queue.writeBuffer(b, 0, this.poisonBytes, 0, b.size);
  }

  destroy(): void {
    for (const b of [this.w1, this.w2, this.y1, this.y2, this.dims1, this.dims2, this.key, this.leafParams, this.nodePrefix, this.cvA, this.cvB, this.leaves, this.nodesA, this.nodesB, this.levels, this.readback, this.a, this.acc, this.y2Staging]) {
      this.ctx.release(b);
    }
    this.a = this.acc = this.y2Staging = undefined;
  }
}
