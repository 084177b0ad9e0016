/**
 * Audits: recompute an attempt's work_root from what the receipt names (prev_hash, device_did,
 * nonce, sizes) and compare it with the claimed one. The Auditor interface is all the verify
 * pipeline sees, so a faster engine (the worker's GPU engine) can replace the reference.
 */
import {
  attemptContext, computeRow, deriveSeed, workRootHasher, type RowScratch, type Sizes,
} from "@tops/protocol";

/** What identifies an attempt and its shape: everything needed to recompute it. */
export interface AuditAttempt {
  readonly prevHash: Uint8Array;
  readonly deviceDid: string;
  readonly nonce: number;
  readonly sizes: Sizes;
}

export interface Auditor {
  /** Shown in logs and /healthz. */
  readonly name: string;
  /** The attempt's work_root (32 bytes), computed independently of the worker. */
  workRoot(attempt: AuditAttempt): Promise<Uint8Array>;
  /** Stops the auditor; pending audits are rejected. */
  close(): Promise<void>;
}

/** Thrown by workRoot() when too many audits are waiting; the request is answered 503 OVERLOADED. */
export class AuditorBusyError extends Error {
  override readonly name = "AuditorBusyError";
}

/** Bytes of y2 hashed at a time: the reference never holds the whole y2 (up to 256 MiB at MAX_DIM). */
const HASH_CHUNK_BYTES = 1 << 16;

/**
 * The protocol reference, row by row into the incremental hasher: equal to
 * referenceWorkRoot(deriveSeed(…), sizes) with memory independent of batch·m.
 */
export function referenceAuditWorkRoot(attempt: AuditAttempt): Uint8Array {
  const { sizes } = attempt;
  const ctx = attemptContext(deriveSeed(attempt), sizes);
  const hasher = workRootHasher(sizes);
  const rows = sizes.batch * sizes.m;
  const rowsPerChunk = Math.max(1, Math.floor(HASH_CHUNK_BYTES / sizes.n));
  const chunk = new Uint8Array(rowsPerChunk * sizes.n);
  const scratch: RowScratch = { a: new Int8Array(sizes.k), y1: new Int32Array(sizes.n) };
  for (let first = 0; first < rows; first += rowsPerChunk) {
    const count = Math.min(rowsPerChunk, rows - first);
    for (let i = 0; i < count; i++) computeRow(ctx, first + i, chunk.subarray(i * sizes.n, (i + 1) * sizes.n), scratch);
    hasher.update(chunk.subarray(0, count * sizes.n));
  }
  return hasher.digest();
}

/**
 * The reference on the calling thread. It blocks the event loop for the whole audit
 * (≈45 ms at 256³ on one core), so it suits tests and AUDIT_THREADS=0 only.
 */
export function createReferenceAuditor(): Auditor {
  return {
    name: "reference (main thread)",
    workRoot: async (attempt) => referenceAuditWorkRoot(attempt),
    close: async () => {},
  };
}

/** The part of the worker's Engine (packages/worker/src/engine/types.ts) an auditor needs. */
export interface AttemptEngine {
  runAttempt(input: { readonly seed: Uint8Array; readonly sizes: Sizes }): Promise<{ readonly workRoot: Uint8Array }>;
  destroy?(): Promise<void>;
}

/** Audits with an engine, e.g. the worker's GPU engine once the aggregator has a GPU. */
export function engineAuditor(engine: AttemptEngine, name = "engine"): Auditor {
  // One GPU queue: audits run one after another, in arrival order.
  let tail: Promise<unknown> = Promise.resolve();
  return {
    name,
    workRoot(attempt) {
      const run = tail.then(async () => (await engine.runAttempt({ seed: deriveSeed(attempt), sizes: attempt.sizes })).workRoot);
      tail = run.catch(() => undefined);
      return run;
    },
    async close() {
      await tail;
      await engine.destroy?.();
    },
  };
}
