/** The engine's public types: what the worker loop sees of any backend. */
import type { Sizes } from "@tops/protocol";

export type { Sizes };

/** Where attempts run: a hardware GPU, Dawn's GL ES backend (Mesa llvmpipe here), or the TS reference. */
export type EngineBackend = "gpu" | "gl" | "cpu";
export type BackendChoice = EngineBackend | "auto";

/** The chosen adapter as the driver reports it; all printable ASCII. */
export interface AdapterSummary {
  readonly vendor: string;
  readonly architecture: string;
  readonly description: string;
}

export interface AttemptInput {
  /** The 32-byte attempt seed (deriveSeed). */
  readonly seed: Uint8Array;
  readonly sizes: Sizes;
  /** Also return y2 (rows·n bytes): for audits and tests; costs a full read back on GPU backends. */
  readonly returnY2?: boolean;
}

export interface AttemptResult {
  /** work_root, 32 bytes: the Merkle root over the row leaves, exactly as the protocol's workRoot. */
  readonly workRoot: Uint8Array;
  /**
   * The row leaves, batch·m × 32 bytes (leaf r at r·32), exactly as the protocol's rowLeaves:
   * the worker keeps them to open rows for audits (merklePath).
   */
  readonly leaves: Uint8Array;
  readonly y2?: Uint8Array;
  /** GPU execution time from timestamp queries, when the device offers them. */
  readonly gpuMs?: number;
  /** Wall time of runAttempt, including read back and hashing. */
  readonly wallMs: number;
  /** Kernel variant that produced the result, e.g. "dot4-8x8r4x4k4" or "ts-ref". */
  readonly variant: string;
  /**
   * The engine is still timing variants at these sizes (the result is as exact as any other,
   * but its time says little about the steady state); the autotuner ignores such attempts.
   */
  readonly exploring?: boolean;
}

export interface Engine {
  readonly backend: EngineBackend;
  readonly adapter: AdapterSummary;
  /** Printable ASCII, at most 256 chars: goes into the receipt's driver_hint. */
  readonly driverHint: string;
  /** Kernel family and version: goes into the receipt's kernel_ver. */
  readonly kernelVer: string;
  /** One line per backend tried, in order: why it was skipped, or that it was chosen. */
  readonly selection: readonly string[];
  runAttempt(input: AttemptInput): Promise<AttemptResult>;
  /** Releases every GPU object so the process can exit; the engine is unusable afterwards. */
  destroy(): Promise<void>;
}

export interface EngineOptions {
  readonly backend?: BackendChoice;
  /** One line per event worth an operator's eye: selection, fallbacks, device loss, variant choice. */
  readonly log?: (line: string) => void;
  /**
   * Kernel variant to use instead of picking the fastest ("auto"); a name from ENGINE.md,
   * or a family prefix such as "f32" or "dot4".
   */
  readonly variant?: string;
  /** Fill the output buffers with 0xFF before each attempt so an unwritten element is caught (tests). */
  readonly poison?: boolean;
  /** Hash y2 on the GPU (default) or read it back and hash it in TypeScript. */
  readonly hashOn?: "gpu" | "cpu";
  /** Skip the start-up bit-exactness check of each variant against the reference (not recommended). */
  readonly skipSelfCheck?: boolean;
}
