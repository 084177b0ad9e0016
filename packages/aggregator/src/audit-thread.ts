/** Body of an audit worker thread: recomputes the opened rows with the row kernel (onnxruntime, or the reference). */
import { parentPort, workerData } from "node:worker_threads";
import { createRowKernel } from "@tops/rowkernel";
import { kernelRows, type RowThreadData, type RowThreadReply, type RowThreadRequest } from "./row-checker";

const port = parentPort;
if (!port) throw new Error("audit-thread.ts runs inside a worker thread only");

const { kernel: choice } = workerData as RowThreadData;
const kernel = createRowKernel({ backend: choice });
void kernel.then((k) => port.postMessage({ id: 0, kernel: k.name } satisfies RowThreadReply), () => undefined);

port.on("message", ({ id, attempt, rows }: RowThreadRequest) => {
  void (async () => {
    let reply: RowThreadReply;
    try {
      reply = { id, rows: await kernelRows(await kernel, { attempt, rows }) };
    } catch (e) {
      reply = { id, error: e instanceof Error ? e.message : String(e) };
    }
    port.postMessage(reply);
  })();
});
