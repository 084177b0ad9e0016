/**
 * The embedded engine on its own worker thread (openStore's embeddedThread): this side only forwards calls.
 * The aggregator's event loop then spends microseconds per accept on it, and the database's
 * synchronous work (statements, fsync at each commit) runs on another core.
 */
import { Worker } from "node:worker_threads";
import type { ImportedReceipt } from "./import-rows";
import type { ImportTarget } from "./receipt-store";
import { PerTurnBatcher, THREAD_METHODS, type Call, type CallsMessage, type ThreadData, type ThreadMethod, type WireError, type WorkerMessage } from "./thread-protocol";
import {
  StoreQueryError,
  type AcceptOptions,
  type AcceptOutcome,
  type ActiveQuarantine,
  type AttemptRecord,
  type DeviceQuery,
  type DeviceSummary,
  type EmbeddedEngine,
  type QuarantineEntry,
  type ReceiptPage,
  type ReceiptQuery,
  type ReceiptStore,
  type StoreLog,
  type StoreObserver,
} from "./types";

function fromWire(e: WireError): Error {
  if (e.name === "StoreQueryError") return new StoreQueryError(e.parameter ?? "", e.message);
  const error = new Error(e.message) as Error & { code?: string };
  error.name = e.name;
  if (e.code) error.code = e.code;
  return error;
}

export class ThreadedEmbeddedStore implements ReceiptStore, ImportTarget {
  readonly engine = "embedded" as const;
  private nextId = 1;
  private readonly calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private closed = false;
  private closing = false;
  private exitError: Error | null = null;
  private readonly outbox: PerTurnBatcher<Call>;

  private constructor(private readonly worker: Worker) {
    this.outbox = new PerTurnBatcher((calls) => worker.postMessage({ type: "calls", calls } satisfies CallsMessage));
  }

  static async open(dataDir: string, engine: EmbeddedEngine, observer?: StoreObserver, log?: StoreLog): Promise<ThreadedEmbeddedStore> {
    const worker = new Worker(new URL("./embedded-thread.mjs", import.meta.url), { workerData: { dataDir, engine } satisfies ThreadData });
    const store = new ThreadedEmbeddedStore(worker);
    await new Promise<void>((resolve, reject) => {
      worker.on("message", (m: WorkerMessage) => {
        switch (m.type) {
          case "ready":
            return resolve();
          case "open-failed":
            return reject(fromWire(m.error));
          case "answers":
            for (const a of m.answers) {
              const call = store.calls.get(a.id);
              store.calls.delete(a.id);
              if (a.error) call?.reject(fromWire(a.error));
              else call?.resolve(a.value);
            }
            return;
          case "commit":
            return observer?.commit(m.ms);
          case "db-error":
            return observer?.error(m.errorClass);
          case "log":
            return log?.(m.event, m.fields);
        }
      });
      worker.on("error", (e) => {
        store.exitError = e;
        reject(e);
        store.failAll(e);
      });
      worker.on("exit", (code) => {
        if (store.closing) return;
        const e = store.exitError ?? new Error(`the embedded database thread exited (code ${code})`);
        reject(e);
        store.failAll(e);
      });
    });
    return store;
  }

  private failAll(e: Error): void {
    this.exitError ??= e;
    for (const call of this.calls.values()) call.reject(e);
    this.calls.clear();
  }

  private call<T>(method: ThreadMethod, ...args: unknown[]): Promise<T> {
    if (!THREAD_METHODS.includes(method)) return Promise.reject(new Error(`unknown method ${method}`));
    if (this.exitError) return Promise.reject(this.exitError);
    if (this.closed) return Promise.reject(new Error("the store is closed"));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.outbox.push({ id, method, args });
    });
  }

  accept(receipt: Parameters<ReceiptStore["accept"]>[0], wireJson: string, opts: AcceptOptions): Promise<AcceptOutcome> {
    return this.call("accept", receipt, wireJson, opts);
  }
  findAttempt(pubkeyHex: string, epochId: number, nonce: number): Promise<AttemptRecord | null> {
    return this.call("findAttempt", pubkeyHex, epochId, nonce);
  }
  signatureSeen(sigHex: string): Promise<boolean> {
    return this.call("signatureSeen", sigHex);
  }
  addQuarantine(entry: QuarantineEntry): Promise<void> {
    return this.call("addQuarantine", entry);
  }
  refusedUntil(pubkeyHex: string, now: number): Promise<number | null> {
    return this.call("refusedUntil", pubkeyHex, now);
  }
  activeQuarantines(now: number): Promise<ActiveQuarantine[]> {
    return this.call("activeQuarantines", now);
  }
  quarantinedKeys(now: number): Promise<number> {
    return this.call("quarantinedKeys", now);
  }
  async epochSecret(create: () => Uint8Array): Promise<Uint8Array> {
    // A function cannot cross threads: send a candidate, kept only if no secret is stored yet.
    return new Uint8Array(await this.call<Uint8Array>("epochSecret", create()));
  }
  storedReceipts(): Promise<number> {
    return this.call("storedReceipts");
  }
  devices(q: DeviceQuery): Promise<DeviceSummary[]> {
    return this.call("devices", q);
  }
  receipts(q: ReceiptQuery): Promise<ReceiptPage> {
    return this.call("receipts", q);
  }
  importAlreadyDone(name: string): Promise<boolean> {
    return this.call("importAlreadyDone", name);
  }
  importReceipts(rows: readonly ImportedReceipt[]): Promise<number> {
    return this.call("importReceipts", rows);
  }
  importAdvanceSeq(): Promise<void> {
    return this.call("importAdvanceSeq");
  }
  importFinish(name: string, receipts: number, quarantine: readonly QuarantineEntry[]): Promise<void> {
    return this.call("importFinish", name, receipts, quarantine);
  }

  async close(): Promise<void> {
    if (this.closed || this.closing || this.exitError) return;
    const closed = this.call("close");
    this.closing = true;
    await closed;
    this.closed = true;
    await this.worker.terminate();
  }
}
