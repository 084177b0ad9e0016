/** Messages between the main thread (threaded.ts) and the embedded engine's worker (embedded-thread.ts). */
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

export interface CallMessage {
  readonly id: number;
  readonly method: ThreadMethod;
  readonly args: readonly unknown[];
}

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
  | { readonly type: "result"; readonly id: number; readonly value: unknown }
  | { readonly type: "error"; readonly id: number; readonly error: WireError }
  | { readonly type: "commit"; readonly ms: number }
  | { readonly type: "db-error"; readonly errorClass: string }
  | { readonly type: "log"; readonly event: string; readonly fields: Record<string, unknown> };

export interface ThreadData {
  readonly dataDir: string;
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
