/** Messages between the main thread (threaded.ts) and the embedded engine's worker (embedded-thread.ts). */
import type { EmbeddedEngine } from "./types";

export const THREAD_METHODS = [
  "accept",
  "findAttempt",
  "signatureSeen",
  "addQuarantine",
  "refusedUntil",
  "activeQuarantines",
  "quarantinedKeys",
  "epochSecret",
  "storedReceipts",
  "devices",
  "receipts",
  "importAlreadyDone",
  "importReceipts",
  "importAdvanceSeq",
  "importFinish",
  "close",
] as const;
export type ThreadMethod = (typeof THREAD_METHODS)[number];

export interface Call {
  readonly id: number;
  readonly method: ThreadMethod;
  readonly args: readonly unknown[];
}

/**
 * Calls, and their answers, cross the thread boundary in batches: everything issued in one turn
 * of the sender's event loop goes in one message. Under load that is a whole group commit's
 * worth of accepts per message instead of one message (and one wake-up of the other thread)
 * per receipt each way.
 */
export interface CallsMessage {
  readonly type: "calls";
  readonly calls: readonly Call[];
}

export type Answer =
  | { readonly id: number; readonly value: unknown; readonly error?: undefined }
  | { readonly id: number; readonly error: WireError };

/** An error, flattened for postMessage (structured clone drops custom classes and fields). */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly parameter?: string;
  readonly code?: string;
}

export type WorkerMessage =
  | { readonly type: "ready" }
  | { readonly type: "open-failed"; readonly error: WireError }
  | { readonly type: "answers"; readonly answers: readonly Answer[] }
  | { readonly type: "commit"; readonly ms: number }
  | { readonly type: "db-error"; readonly errorClass: string }
  | { readonly type: "log"; readonly event: string; readonly fields: Record<string, unknown> };

export interface ThreadData {
  readonly dataDir: string;
  readonly engine: EmbeddedEngine;
}

export function toWireError(e: unknown): WireError {
  if (e instanceof Error) {
    const extra = e as Error & { parameter?: unknown; code?: unknown };
    return {
      name: e.name,
      message: e.message,
      ...(typeof extra.parameter === "string" ? { parameter: extra.parameter } : {}),
      ...(typeof extra.code === "string" ? { code: extra.code } : {}),
    };
  }
  return { name: "Error", message: String(e) };
}

/** Collects items and hands them over together once per turn of the event loop (setImmediate). */
export class PerTurnBatcher<T> {
  private items: T[] = [];

  constructor(private readonly send: (items: T[]) => void) {}

  push(item: T): void {
    if (this.items.length === 0) setImmediate(() => this.flush());
    this.items.push(item);
  }

  /** Sends what is waiting now (also used before closing, so nothing is left behind). */
  flush(): void {
    if (this.items.length === 0) return;
    const items = this.items;
    this.items = [];
    this.send(items);
  }
}
