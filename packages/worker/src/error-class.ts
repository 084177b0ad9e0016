/**
 * Which of the contract's error counters an outcome belongs to. The aggregator's codes
 * about keys and signatures are signature errors; every other refusal of a receipt
 * (schema, freshness, replay, audit) is a validation error.
 */
export type ErrorClass = "gpu" | "network" | "signature" | "validation";

const SIGNATURE_CODES = new Set(["BAD_SIGNATURE", "BAD_PUBKEY", "KEY_NOT_ALLOWED", "KEY_QUARANTINED"]);

export function classOfRejection(code: string): ErrorClass {
  return SIGNATURE_CODES.has(code) ? "signature" : "validation";
}
