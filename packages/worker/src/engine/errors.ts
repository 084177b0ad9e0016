/**
 * Typed errors of the engine. Every failure that leaves the engine is one of these, with a
 * one-line message a worker can log as is; the raw Dawn text, which is multi-line and full of
 * C++ source locations, is kept in `detail` for debugging only.
 */

/** What went wrong, in the classes the worker loop reacts to. */
export type GpuErrorClass = "validation" | "out-of-memory" | "device-lost" | "internal" | "unsupported";

export class GpuError extends Error {
  override readonly name = "GpuError";
  /** The error class; `device-lost` is the only one the engine recovers from by itself. */
  readonly class: GpuErrorClass;
  /** The raw text from Dawn or the driver, when there was one. */
  readonly detail: string | undefined;

  constructor(errorClass: GpuErrorClass, message: string, detail?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.class = errorClass;
    this.detail = detail;
  }
}

/** A kernel whose output differs from the protocol's reference: the variant is retired. */
export class MismatchError extends GpuError {
  constructor(message: string) {
    super("internal", message);
  }
}

export function isGpuError(e: unknown): e is GpuError {
  return e instanceof GpuError;
}

/** A bad environment variable or option: the worker's one ConfigError, naming the variable. */
export { ConfigError as EngineConfigError } from "@tops/env";

/** First line of a Dawn message, without its "    at Foo (file.cpp:123)" trailer. */
export function firstLine(text: string): string {
  const line = text.split("\n").find((l) => l.trim() !== "") ?? "";
  return line.trim().replace(/\s+/g, " ").slice(0, 300);
}

export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/**
 * Classifies anything thrown by a WebGPU call. Dawn rejects promises with plain Errors or
 * DOMExceptions whose names carry the class (OperationError, AbortError for a lost device).
 */
export function toGpuError(e: unknown, context: string, fallback: GpuErrorClass = "internal"): GpuError {
  if (e instanceof GpuError) return e;
  const raw = errorText(e);
  const name = e instanceof Error ? e.name : "";
  let cls: GpuErrorClass = fallback;
  if (/device (is |was )?(lost|destroyed)|lost device|destroyed device|AbortError/i.test(`${name} ${raw}`)) cls = "device-lost";
  else if (/out of memory|OutOfMemory|allocation failed/i.test(raw)) cls = "out-of-memory";
  return new GpuError(cls, `${context}: ${firstLine(raw) || name || "unknown error"}`, raw, { cause: e });
}
