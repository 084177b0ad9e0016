/**
 * Runs attempts on one GpuContext: compiles pipelines once, keeps buffers per size (the two
 * most recent sizes), records one compute pass per attempt (GEMMs, then the row leaves and the
 * Merkle tree of work_root), and reads back the root and the leaves (plus y2 only when asked or
 * when hashing on the CPU).
 */
import { activationKey, merkleRoot, rowLeaves, type Sizes } from "@tops/protocol";
import { GpuError, errorText, firstLine } from "../errors";
import { LEAF_CHUNKS_SOURCE, LEAF_PARENTS_SOURCE, NODES_SOURCE, TREE_LEVEL_SLOT } from "./merkle";
import { FOLD } from "./wgsl";
import { MAP_READ, Usage, type GpuContext } from "./device";
import { READBACK_LEAVES_AT, SizeResources } from "./resources";
import { expectShortWait } from "./ticks";
import type { Step, Variant } from "./variants";

export interface RunOptions {
  readonly returnY2: boolean;
  readonly hashOn: "gpu" | "cpu";
  readonly poison: boolean;
}

export interface RunResult {
  readonly workRoot: Uint8Array;
  /** rows·32 bytes: leaf r at r·32. */
  readonly leaves: Uint8Array;
  readonly y2?: Uint8Array;
  readonly gpuMs?: number;
}

interface BoundStep {
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly grid: readonly [number, number, number];
}

interface HashPlan {
  readonly steps: BoundStep[];
  readonly digest: GPUBuffer;
}

/** Sizes kept resident; switching between two sizes (autotune probing) reallocates nothing. */
const MAX_RESIDENT_SIZES = 2;

const sizesKey = (s: Sizes): string => `${s.m}x${s.n}x${s.k}x${s.batch}`;

const wordGrid = (threads: number): [number, number, number] => {
  const groups = Math.max(1, Math.ceil(threads / 64));
  return groups > FOLD ? [FOLD, Math.ceil(groups / FOLD), 1] : [groups, 1, 1];
};

export class AttemptRunner {
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  private readonly resident = new Map<string, SizeResources>();
  private readonly plans = new Map<SizeResources, Map<string, BoundStep[]>>();
  private readonly hashPlans = new Map<SizeResources, HashPlan>();
  private readonly querySet: GPUQuerySet | undefined;
  private readonly resolve: GPUBuffer | undefined;

  constructor(private readonly ctx: GpuContext) {
    if (ctx.caps.timestamps) {
      this.querySet = ctx.device.createQuerySet({ type: "timestamp", count: 2 });
      this.resolve = ctx.buffer("timestamps", 256, Usage.QUERY_RESOLVE | Usage.COPY_SRC);
    }
  }

  /** Compiles (once) the pipeline of a step; a shader error becomes a one-line GpuError. */
  pipeline(key: string, source: () => string): Promise<GPUComputePipeline> {
    let p = this.pipelines.get(key);
    if (!p) {
      p = this.compile(key, source());
      this.pipelines.set(key, p);
      p.catch(() => this.pipelines.delete(key));
    }
    return p;
  }

  private async compile(key: string, code: string): Promise<GPUComputePipeline> {
    const device = this.ctx.device;
    const module = device.createShaderModule({ label: key, code });
    try {
      return await device.createComputePipelineAsync({ label: key, layout: "auto", compute: { module, entryPoint: "main" } });
    } catch (e) {
      const info = await module.getCompilationInfo().catch(() => undefined);
      const err = info?.messages.find((m) => m.type === "error");
      const why = err ? `line ${err.lineNum}: ${firstLine(err.message)}` : firstLine(errorText(e));
      throw new GpuError(this.ctx.lost ? "device-lost" : "validation", `cannot build kernel ${key}: ${why}`, errorText(e), { cause: e });
    }
  }

  resources(sizes: Sizes): SizeResources {
    const id = sizesKey(sizes);
    let r = this.resident.get(id);
    if (r) {
      this.resident.delete(id); // re-insert: Map order is the LRU order
    } else {
      r = SizeResources.create(this.ctx, sizes);
      while (this.resident.size >= MAX_RESIDENT_SIZES) this.evict(this.resident.keys().next().value!);
    }
    this.resident.set(id, r);
    return r;
  }

  /** Frees the buffers of `sizes` (used after start-up checks at odd sizes). */
  forget(sizes: Sizes): void {
    this.evict(sizesKey(sizes));
  }

  private evict(id: string): void {
    const r = this.resident.get(id);
    if (!r) return;
    this.resident.delete(id);
    this.plans.delete(r);
    this.hashPlans.delete(r);
    r.destroy();
  }

  private async bind(steps: readonly Step[]): Promise<BoundStep[]> {
    const bound: BoundStep[] = [];
    for (const s of steps) {
      const pipeline = await this.pipeline(s.pipeline, s.source);
      const bindGroup = this.ctx.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [...s.entries] });
      bound.push({ pipeline, bindGroup, grid: s.grid });
    }
    return bound;
  }

  private async plan(variant: Variant, r: SizeResources): Promise<BoundStep[]> {
    let perSize = this.plans.get(r);
    if (!perSize) this.plans.set(r, (perSize = new Map()));
    let steps = perSize.get(variant.name);
    if (!steps) {
      steps = await this.bind(variant.steps(r.planBuffers(variant.needsA, variant.needsAcc)));
      perSize.set(variant.name, steps);
    }
    return steps;
  }

  /**
   * work_root v2 (merkle.ts): leaves of every row (chunk kernel, then the in-leaf levels when a
   * row spans several chunks), then the tree levels; the root lands in the last level written,
   * or is the single leaf.
   */
  private async hashPlan(r: SizeResources): Promise<HashPlan> {
    let plan = this.hashPlans.get(r);
    if (plan) return plan;
    const { rows, leafChunks, leafLevels, treeLevels } = r.layout;
    const buf = (binding: number, buffer: GPUBuffer, offset = 0, size?: number): GPUBindGroupEntry => ({
      binding,
      resource: size === undefined ? { buffer, offset } : { buffer, offset, size },
    });
    const level = (i: number): GPUBindGroupEntry => buf(0, r.levels!, i * TREE_LEVEL_SLOT, 16);
    // With one chunk per row the chunk kernel writes the leaves directly; cvs is bound but unused.
    const cvs = r.cvA ?? r.nodesA;
    const steps: Step[] = [
      {
        pipeline: "leaf-chunks",
        source: () => LEAF_CHUNKS_SOURCE,
        entries: [buf(0, r.leafParams), buf(1, r.y2), buf(2, cvs), buf(3, r.leaves)],
        grid: wordGrid(rows * leafChunks),
      },
    ];
    let src = cvs;
    let dst = r.cvB ?? r.nodesB;
    leafLevels.forEach((count, i) => {
      steps.push({
        pipeline: "leaf-parents",
        source: () => LEAF_PARENTS_SOURCE,
        entries: [level(i), buf(1, src), buf(2, dst), buf(3, r.leaves)],
        grid: wordGrid(rows * Math.ceil(count / 2)),
      });
      [src, dst] = [dst, src];
    });
    let root = r.leaves;
    [src, dst] = [r.leaves, r.nodesA];
    treeLevels.forEach((count, i) => {
      steps.push({
        pipeline: "nodes",
        source: () => NODES_SOURCE,
        entries: [level(leafLevels.length + i), buf(1, src), buf(2, dst), buf(3, r.nodePrefix)],
        grid: wordGrid(Math.ceil(count / 2)),
      });
      root = dst;
      [src, dst] = [dst, src === r.leaves ? r.nodesB : src];
    });
    plan = { steps: await this.bind(steps), digest: root };
    this.hashPlans.set(r, plan);
    return plan;
  }

  /**
   * Everything an attempt needs before the clock starts: buffers and weights for these sizes
   * (the uploads waited for), pipelines compiled, bind groups made. Idempotent and cheap once done.
   */
  async prepare(variant: Variant, sizes: Sizes, hashOn: "gpu" | "cpu"): Promise<void> {
    const ready = this.resident.get(sizesKey(sizes));
    if (ready && this.plans.get(ready)?.has(variant.name) && (hashOn === "cpu" || this.hashPlans.has(ready))) return;
    const label = `preparing ${sizesKey(sizes)} for ${variant.name}`;
    try {
      await this.ctx.scoped(label, async () => {
        const fresh = !this.resident.has(sizesKey(sizes));
        const r = this.resources(sizes);
        await this.plan(variant, r);
        if (hashOn === "gpu") await this.hashPlan(r);
        if (fresh) await this.ctx.device.queue.onSubmittedWorkDone();
      });
    } catch (e) {
      this.forget(sizes);
      throw e;
    }
  }

  async run(variant: Variant, sizes: Sizes, seed: Uint8Array, opts: RunOptions): Promise<RunResult> {
    const label = `attempt ${sizesKey(sizes)} with ${variant.name}`;
    try {
      return await this.ctx.scoped(label, () => this.record(variant, sizes, seed, opts, label));
    } catch (e) {
      // Buffers of a failed attempt may be invalid (out of memory) or half written: rebuild them next time.
      this.forget(sizes);
      throw e;
    }
  }

  private async record(variant: Variant, sizes: Sizes, seed: Uint8Array, opts: RunOptions, label: string): Promise<RunResult> {
    const { ctx } = this;
    const r = this.resources(sizes);
    const steps = await this.plan(variant, r);
    const hash = opts.hashOn === "gpu" ? await this.hashPlan(r) : undefined;
    const q = ctx.device.queue;
    q.writeBuffer(r.key, 0, new Uint32Array(activationKey(seed)));
    if (opts.poison) r.poison();

    const enc = ctx.device.createCommandEncoder({ label });
    if (variant.clearsOutputs) {
      enc.clearBuffer(r.y1);
      enc.clearBuffer(r.y2);
    }
    const pass = enc.beginComputePass(
      this.querySet ? { timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {},
    );
    for (const s of [...steps, ...(hash?.steps ?? [])]) {
      pass.setPipeline(s.pipeline);
      pass.setBindGroup(0, s.bindGroup);
      pass.dispatchWorkgroups(s.grid[0], s.grid[1], s.grid[2]);
    }
    pass.end();
    if (hash) {
      enc.copyBufferToBuffer(hash.digest, 0, r.readback, 0, 32);
      enc.copyBufferToBuffer(r.leaves, 0, r.readback, READBACK_LEAVES_AT, r.layout.rows * 32);
    }
    if (this.querySet && this.resolve) {
      enc.resolveQuerySet(this.querySet, 0, 2, this.resolve, 0);
      enc.copyBufferToBuffer(this.resolve, 0, r.readback, 32, 16);
    }
    const y2Read = opts.returnY2 || !hash ? r.y2ReadBuffer() : undefined;
    if (y2Read) enc.copyBufferToBuffer(r.y2, 0, y2Read, 0, r.layout.outBytes);
    q.submit([enc.finish()]);
    expectShortWait();

    const readsBack = hash !== undefined || this.querySet !== undefined;
    try {
      // Wait for both maps to settle so neither is left pending for the next attempt.
      const maps = await Promise.allSettled([readsBack ? r.readback.mapAsync(MAP_READ) : undefined, y2Read?.mapAsync(MAP_READ)]);
      for (const m of maps) if (m.status === "rejected") throw m.reason;
      let workRoot: Uint8Array | undefined;
      let leaves: Uint8Array | undefined;
      let gpuMs: number | undefined;
      if (readsBack) {
        const bytes = new Uint8Array(r.readback.getMappedRange());
        if (hash) {
          workRoot = bytes.slice(0, 32);
          leaves = bytes.slice(READBACK_LEAVES_AT, READBACK_LEAVES_AT + r.layout.rows * 32);
        }
        if (this.querySet) {
          const ts = new BigUint64Array(bytes.buffer, bytes.byteOffset + 32, 2);
          if (ts[1]! > ts[0]!) gpuMs = Number(ts[1]! - ts[0]!) / 1e6;
        }
      }
      let y2: Uint8Array | undefined;
      if (y2Read) {
        const padded = new Uint8Array(y2Read.getMappedRange(0, r.layout.outBytes));
        const { n } = sizes;
        const stride = r.layout.NW * 4;
        y2 = new Uint8Array(r.layout.rows * n);
        for (let row = 0; row < r.layout.rows; row++) y2.set(padded.subarray(row * stride, row * stride + n), row * n);
        if (!hash) {
          leaves = rowLeaves(sizes, y2);
          workRoot = merkleRoot(leaves);
        }
        if (!opts.returnY2) y2 = undefined;
      }
      return { workRoot: workRoot!, leaves: leaves!, ...(y2 ? { y2 } : {}), ...(gpuMs !== undefined ? { gpuMs } : {}) };
    } finally {
      if (r.readback.mapState === "mapped") r.readback.unmap();
      if (y2Read?.mapState === "mapped") y2Read.unmap();
    }
  }

  destroy(): void {
    for (const id of [...this.resident.keys()]) this.evict(id);
    this.ctx.release(this.resolve);
    this.querySet?.destroy();
    this.pipelines.clear();
  }
}
