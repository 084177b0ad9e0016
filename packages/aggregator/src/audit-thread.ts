/** Body of an audit worker thread: recomputes work_roots with the protocol reference. */
import { parentPort } from "node:worker_threads";
import { referenceAuditWorkRoot, type AuditAttempt } from "./auditor";

export interface AuditRequest {
  readonly id: number;
  readonly attempt: AuditAttempt;
}

export type AuditReply = { readonly id: number; readonly workRoot: Uint8Array } | { readonly id: number; readonly error: string };

const port = parentPort;
if (!port) throw new Error("audit-thread.ts runs inside a worker thread only");

port.on("message", ({ id, attempt }: AuditRequest) => {
  let reply: AuditReply;
  try {
    reply = { id, workRoot: referenceAuditWorkRoot(attempt) };
  } catch (e) {
    reply = { id, error: e instanceof Error ? e.message : String(e) };
  }
  port.postMessage(reply);
});
