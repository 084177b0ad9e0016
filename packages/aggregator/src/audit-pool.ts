/**
 * The reference auditor on a pool of worker threads: audits run in parallel and never block
 * the HTTP event loop (a 256³ audit takes ≈45 ms of CPU, a 1024³ one seconds). The queue
 * in front of the threads is bounded; beyond it workRoot() throws AuditorBusyError (→ 503).
 */
import { Worker } from "node:worker_threads";
import type { AuditReply, AuditRequest } from "./audit-thread";
import { AuditorBusyError, type AuditAttempt, type Auditor } from "./auditor";

const THREAD_ENTRY = new URL("./audit-thread.mjs", import.meta.url);

interface Job {
  readonly id: number;
  readonly attempt: AuditAttempt;
  readonly resolve: (workRoot: Uint8Array) => void;
  readonly reject: (e: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  job: Job | null;
}

export class ThreadPoolAuditor implements Auditor {
  readonly name: string;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(
    threads: number,
    private readonly queueMax: number,
  ) {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError("a thread pool needs at least one thread");
    this.name = `reference (${threads} worker thread${threads === 1 ? "" : "s"})`;
    // Started now, not on the first audit: loading the TypeScript in a thread takes ~0.5 s.
    for (let i = 0; i < threads; i++) this.slots.push(this.spawn());
  }

  /** Audits waiting for a thread. */
  get queued(): number {
    return this.queue.length;
  }

  workRoot(attempt: AuditAttempt): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new Error("auditor is closed"));
    if (this.queue.length >= this.queueMax) return Promise.reject(new AuditorBusyError(`${this.queue.length} audits are already waiting`));
    return new Promise<Uint8Array>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, attempt, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const error = new Error("auditor is closed");
    for (const job of this.queue.splice(0)) job.reject(error);
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
      slot.worker.postMessage({ id: job.id, attempt: job.attempt } satisfies AuditRequest);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(THREAD_ENTRY, { name: "tops-audit" });
    worker.unref();
    const slot: Slot = { worker, job: null };
    const finish = (settle: (job: Job) => void): void => {
      const job = slot.job;
      slot.job = null;
      worker.unref();
      if (job) settle(job);
    };
    worker.on("message", (reply: AuditReply) => {
      if (slot.job?.id !== reply.id) return;
      finish((job) => ("error" in reply ? job.reject(new Error(`audit failed: ${reply.error}`)) : job.resolve(reply.workRoot)));
      this.dispatch();
    });
    worker.on("error", (e) => finish((job) => job.reject(e)));
    worker.on("exit", (code) => {
      if (this.closed) return;
      // A thread that died (crash, out of memory) fails its audit and is replaced.
      finish((job) => job.reject(new Error(`audit thread exited with code ${code}`)));
      const index = this.slots.indexOf(slot);
      if (index !== -1) this.slots[index] = this.spawn();
      this.dispatch();
    });
    return slot;
  }
}
