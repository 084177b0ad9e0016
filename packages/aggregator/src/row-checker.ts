/**
 * Recomputes the rows an audit opened (SPEC.md §8): AUDIT_ROWS · (k·n + n²) multiply-adds per
 * audit, whatever m and batch are, with @tops/rowkernel (onnxruntime's int8 GEMM, ≈280× the
 * TypeScript reference at 4096; the reference itself where onnxruntime does not load or
 * AUDIT_KERNEL=reference).
 *
 * On a pool of worker threads so the HTTP event loop never waits on arithmetic. The queue in
 * front of the threads is fair per key: keys take turns, so one key flooding the aggregator
 * with large receipts delays its own audits, not everyone's. Past AUDIT_QUEUE_MAX jobs a new
 * one is refused (RowCheckerBusyError → 503 OVERLOADED; the worker retries before its deadline).
 */
import { Worker } from "node:worker_threads";
import { deriveSeed, referenceRows, type Sizes } from "@tops/protocol";
import { createRowKernel, type RowKernel, type RowKernelOptions } from "@tops/rowkernel";

/** AUDIT_KERNEL: which row kernel computes audits. */
export type AuditKernelChoice = NonNullable<RowKernelOptions["backend"]>;

/** What identifies an attempt and its shape: everything needed to recompute its rows. */
export interface RowAttempt {
  readonly pubkey: Uint8Array;
  readonly prevHash: Uint8Array;
  readonly deviceDid: string;
  readonly nonce: number;
  readonly sizes: Sizes;
}

export interface RowJob {
  /** Fairness key: the signer's pubkey hex. */
  readonly owner: string;
  readonly attempt: RowAttempt;
  readonly rows: readonly number[];
}

export interface RowChecker {
  /** Shown in logs and /healthz. */
  readonly name: string;
  /** y2 of each requested row, computed independently of the worker. */
  rows(job: RowJob): Promise<Uint8Array[]>;
  /** Jobs waiting for a thread. */
  readonly queued: number;
  /** Stops; pending and running jobs are rejected. */
  close(): Promise<void>;
}

export class RowCheckerBusyError extends Error {
  override readonly name = "RowCheckerBusyError";
}

export class RowCheckerClosedError extends Error {
  override readonly name = "RowCheckerClosedError";
  constructor() {
    super("the row checker is closed");
  }
}

/** The rows by the protocol's TypeScript reference: what every kernel must equal. */
export function computeAuditRows(job: Pick<RowJob, "attempt" | "rows">): Uint8Array[] {
  return referenceRows(deriveSeed(job.attempt), job.attempt.sizes, job.rows);
}

export function kernelRows(kernel: RowKernel, job: Pick<RowJob, "attempt" | "rows">): Promise<Uint8Array[]> {
  return kernel.rows(deriveSeed(job.attempt), job.attempt.sizes, job.rows);
}

/**
 * On the calling thread (tests and AUDIT_THREADS=0). With onnxruntime the GEMM runs on its own
 * threads; with the reference it blocks the event loop during each audit.
 */
export async function createMainThreadRowChecker(choice: AuditKernelChoice = "auto"): Promise<RowChecker> {
  const kernel = await createRowKernel({ backend: choice });
  return {
    name: `${kernel.name} (main thread)`,
    queued: 0,
    rows: (job) => kernelRows(kernel, job),
    close: () => kernel.close(),
  };
}

export interface RowThreadRequest {
  readonly id: number;
  readonly attempt: RowAttempt;
  readonly rows: readonly number[];
}
export type RowThreadReply =
  | { readonly id: number; readonly rows: Uint8Array[] }
  | { readonly id: number; readonly error: string }
  /** Sent once, when the thread's kernel is ready. */
  | { readonly id: 0; readonly kernel: string };

/** What a row thread is started with. */
export interface RowThreadData {
  readonly kernel: AuditKernelChoice;
}

const THREAD_ENTRY = new URL("./audit-thread.mjs", import.meta.url);

interface Job {
  readonly id: number;
  readonly job: RowJob;
  readonly resolve: (rows: Uint8Array[]) => void;
  readonly reject: (e: Error) => void;
}

/** Round robin over owners, FIFO within one owner. */
class FairQueue {
  private readonly byOwner = new Map<string, Job[]>();
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(job: Job): void {
    const list = this.byOwner.get(job.job.owner);
    if (list) list.push(job);
    else this.byOwner.set(job.job.owner, [job]);
    this.size++;
  }

  /** The next owner's oldest job; that owner then goes to the back of the turn order. */
  shift(): Job | undefined {
    const next = this.byOwner.entries().next();
    if (next.done) return undefined;
    const [owner, list] = next.value;
    const job = list.shift()!;
    this.byOwner.delete(owner);
    if (list.length > 0) this.byOwner.set(owner, list);
    this.size--;
    return job;
  }

  drain(): Job[] {
    const all = [...this.byOwner.values()].flat();
    this.byOwner.clear();
    this.size = 0;
    return all;
  }
}

interface Slot {
  readonly worker: Worker;
  job: Job | null;
}

export class ThreadPoolRowChecker implements RowChecker {
  private kernelName = "loading";
  private readonly slots: Slot[] = [];
  private readonly queue = new FairQueue();
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly threads: number,
    private readonly queueMax: number,
    private readonly kernel: AuditKernelChoice = "auto",
  ) {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError("a thread pool needs at least one thread");
    // Started now, not on the first audit: loading the TypeScript and the kernel in a thread takes ~0.5 s.
    for (let i = 0; i < threads; i++) this.slots.push(this.spawn());
  }

  get name(): string {
    return `${this.kernelName} (${this.threads} worker thread${this.threads === 1 ? "" : "s"})`;
  }

  get queued(): number {
    return this.queue.length;
  }

  rows(job: RowJob): Promise<Uint8Array[]> {
    if (this.closed) return Promise.reject(new RowCheckerClosedError());
    if (this.queue.length >= this.queueMax) return Promise.reject(new RowCheckerBusyError(`${this.queue.length} audits are already waiting`));
    return new Promise<Uint8Array[]>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, job, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const error = new RowCheckerClosedError();
    for (const job of this.queue.drain()) job.reject(error);
    await Promise.all(this.slots.map(async (slot) => {
      slot.job?.reject(error);
      slot.job = null;
      await slot.worker.terminate();
    }));
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.job) continue;
      const job = this.queue.shift()!;
      slot.job = job;
      // A busy thread keeps the process alive; an idle one must not.
      slot.worker.ref();
      slot.worker.postMessage({ id: job.id, attempt: job.job.attempt, rows: job.job.rows } satisfies RowThreadRequest);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(THREAD_ENTRY, { name: "tops-audit", workerData: { kernel: this.kernel } satisfies RowThreadData });
    worker.unref();
    const slot: Slot = { worker, job: null };
    const finish = (settle: (job: Job) => void): void => {
      const job = slot.job;
      slot.job = null;
      worker.unref();
      if (job) settle(job);
    };
    worker.on("message", (reply: RowThreadReply) => {
      if ("kernel" in reply) {
        this.kernelName = reply.kernel;
        return;
      }
      if (slot.job?.id !== reply.id) return;
      finish((job) => ("error" in reply ? job.reject(new Error(`audit failed: ${reply.error}`)) : job.resolve(reply.rows)));
      this.dispatch();
    });
    worker.on("error", (e) => finish((job) => job.reject(e)));
    worker.on("exit", (code) => {
      if (this.closed) return;
      // A thread that died (crash, out of memory) fails its job and is replaced.
      finish((job) => job.reject(new Error(`audit thread exited with code ${code}`)));
      const index = this.slots.indexOf(slot);
      if (index !== -1) this.slots[index] = this.spawn();
      this.dispatch();
    });
    return slot;
  }
}
