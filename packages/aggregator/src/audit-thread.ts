/** Body of an audit worker thread: recomputes the opened rows with the protocol reference. */
import { parentPort } from "node:worker_threads";
import { computeAuditRows, type RowThreadReply, type RowThreadRequest } from "./row-checker";

const port = parentPort;
if (!port) throw new Error("audit-thread.ts runs inside a worker thread only");

port.on("message", ({ id, attempt, rows }: RowThreadRequest) => {
  let reply: RowThreadReply;
  try {
    reply = { id, rows: computeAuditRows({ attempt, rows }) };
  } catch (e) {
    reply = { id, error: e instanceof Error ? e.message : String(e) };
  }
  port.postMessage(reply);
});
