/**
 * Which of the contract's error counters an outcome belongs to. The aggregator's codes
 * about keys and signatures are signature errors; every other refusal of a receipt
 * (schema, freshness, replay, audit) is a validation error.
 */
export type ErrorClass = "gpu" | "network" | "signature" | "validation";

/** SIG_NOT_OK: the Rust project's verifier answered 200 with sig_ok: false. */
const SIGNATURE_CODES = new Set(["BAD_SIGNATURE", "BAD_PUBKEY", "KEY_NOT_ALLOWED", "KEY_QUARANTINED", "SIG_NOT_OK"]);

/** The worker's own GPU could not reproduce its receipt when asked to open it (openings.ts). */
const GPU_CODES = new Set(["GPU_ROW_MISMATCH", "WORK_ROOT_NOT_REPRODUCED"]);

export function classOfRejection(code: string): ErrorClass {
  if (GPU_CODES.has(code)) return "gpu";
  return SIGNATURE_CODES.has(code) ? "signature" : "validation";
}
