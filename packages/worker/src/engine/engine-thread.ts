/**
 * The engine's worker thread: owns one engine and runs attempts on request. Dawn's GL backend
 * blocks the calling thread for the whole GPU submit, so running here keeps the worker's event
 * loop (metrics scrapes, signals, HTTP) responsive during attempts.
 */
import { parentPort, workerData } from "node:worker_threads";
import { createEngine } from "./select";
import type { Engine, EngineOptions, Sizes } from "./types";

export type ThreadRequest =
  | { readonly type: "run"; readonly id: number; readonly seed: Uint8Array; readonly sizes: Sizes; readonly returnY2: boolean }
  | { readonly type: "destroy" };

export type ThreadReply =
  | { readonly type: "log"; readonly line: string }
  | { readonly type: "ready"; readonly engine: Pick<Engine, "backend" | "adapter" | "driverHint" | "kernelVer" | "selection"> }
  | { readonly type: "failed"; readonly error: SerializedError }
  | { readonly type: "result"; readonly id: number; readonly workRoot: Uint8Array; readonly leaves: Uint8Array; readonly y2?: Uint8Array; readonly gpuMs?: number; readonly wallMs: number; readonly variant: string; readonly exploring?: boolean }
  | { readonly type: "error"; readonly id: number; readonly error: SerializedError }
  | { readonly type: "destroyed" };

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly class?: string;
  readonly detail?: string;
}

function serialize(e: unknown): SerializedError {
  const err = e as { name?: unknown; message?: unknown; class?: unknown; detail?: unknown };
  return {
    name: typeof err.name === "string" ? err.name : "Error",
    message: typeof err.message === "string" ? err.message : String(e),
    ...(typeof err.class === "string" ? { class: err.class } : {}),
    ...(typeof err.detail === "string" ? { detail: err.detail } : {}),
  };
}

const port = parentPort!;
const send = (reply: ThreadReply): void => port.postMessage(reply);
const options = workerData as Omit<EngineOptions, "log">;

let engine: Engine;
try {
  engine = await createEngine({ ...options, log: (line) => send({ type: "log", line }) });
  send({ type: "ready", engine: { backend: engine.backend, adapter: engine.adapter, driverHint: engine.driverHint, kernelVer: engine.kernelVer, selection: [...engine.selection] } });
} catch (e) {
  send({ type: "failed", error: serialize(e) });
  port.close();
  process.exit(0);
}

port.on("message", async (req: ThreadRequest) => {
  if (req.type === "destroy") {
    await engine.destroy();
    send({ type: "destroyed" });
    port.close();
    return;
  }
  try {
    const r = await engine.runAttempt({ seed: req.seed, sizes: req.sizes, returnY2: req.returnY2 });
    send({
      type: "result", id: req.id, workRoot: r.workRoot, leaves: r.leaves, wallMs: r.wallMs, variant: r.variant,
      ...(r.y2 ? { y2: r.y2 } : {}), ...(r.gpuMs !== undefined ? { gpuMs: r.gpuMs } : {}), ...(r.exploring !== undefined ? { exploring: r.exploring } : {}),
    });
  } catch (e) {
    send({ type: "error", id: req.id, error: serialize(e) });
  }
});
