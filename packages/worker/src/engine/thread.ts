/**
 * createThreadedEngine: the same Engine, running in a worker thread. Attempts are queued and
 * run one at a time (one GPU queue); errors come back as the same typed GpuErrors.
 */
import { Worker } from "node:worker_threads";
import { ensureGlEnvironment } from "./gpu/dawn";
import { GpuError, type GpuErrorClass } from "./errors";
import type { ThreadReply, ThreadRequest, SerializedError } from "./engine-thread";
import type { AttemptInput, AttemptResult, Engine, EngineOptions } from "./types";

const THREAD_ENTRY = new URL("./engine-thread.mjs", import.meta.url);
const CLASSES: readonly string[] = ["validation", "out-of-memory", "device-lost", "internal", "unsupported"];

function revive(e: SerializedError): Error {
  if (e.class !== undefined && CLASSES.includes(e.class)) return new GpuError(e.class as GpuErrorClass, e.message, e.detail);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

export async function createThreadedEngine(options: EngineOptions = {}): Promise<Engine> {
  // Native code in the thread reads the process environment: set EGL's before it starts.
  ensureGlEnvironment();
  const { log, ...rest } = options;
  const worker = new Worker(THREAD_ENTRY, { workerData: rest });
  const pending = new Map<number, { resolve: (r: AttemptResult) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let tail: Promise<unknown> = Promise.resolve();
  let destroyed: (() => void) | undefined;
  let onReady: ((r: Extract<ThreadReply, { type: "ready" }>) => void) | undefined;
  let onFailed: ((e: Error) => void) | undefined;

  let dead: Error | undefined;
  const failAll = (e: Error) => {
    for (const p of pending.values()) p.reject(e);
    pending.clear();
    onFailed?.(e);
  };
  worker.on("message", (m: ThreadReply) => {
    switch (m.type) {
      case "log":
        log?.(m.line);
        break;
      case "ready":
        onReady?.(m);
        break;
      case "failed":
        onFailed?.(revive(m.error));
        break;
      case "result": {
        const { type: _type, id, ...result } = m;
        pending.get(id)?.resolve(result);
        pending.delete(id);
        break;
      }
      case "error":
        pending.get(m.id)?.reject(revive(m.error));
        pending.delete(m.id);
        break;
      case "destroyed":
        destroyed?.();
        break;
    }
  });
  worker.on("error", (e) => failAll(new GpuError("internal", `engine thread: ${e.message}`)));
  worker.on("exit", () => {
    dead = new GpuError("internal", "engine thread exited");
    failAll(dead);
  });

  const ready = await new Promise<Extract<ThreadReply, { type: "ready" }>>((resolve, reject) => {
    onReady = resolve;
    onFailed = reject;
  }).catch(async (e: unknown) => {
    await worker.terminate();
    throw e;
  });
  onFailed = undefined;
  const info = ready.engine;

  const run = (input: AttemptInput): Promise<AttemptResult> =>
    new Promise<AttemptResult>((resolve, reject) => {
      if (dead) return reject(dead);
      const id = nextId++;
      pending.set(id, { resolve, reject });
      const req: ThreadRequest = { type: "run", id, seed: input.seed, sizes: input.sizes, returnY2: input.returnY2 ?? false };
      worker.postMessage(req);
    });

  return {
    backend: info.backend,
    adapter: info.adapter,
    driverHint: info.driverHint,
    kernelVer: info.kernelVer,
    selection: info.selection,
    runAttempt(input) {
      const result = tail.then(() => run(input));
      tail = result.catch(() => undefined);
      return result;
    },
    async destroy() {
      await tail;
      const done = new Promise<void>((resolve) => (destroyed = resolve));
      worker.postMessage({ type: "destroy" } satisfies ThreadRequest);
      await Promise.race([done, new Promise((r) => setTimeout(r, 5000).unref())]);
      await worker.terminate();
    },
  };
}
