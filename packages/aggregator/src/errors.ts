/**
 * The aggregator's answers to refused requests: a stable code, an HTTP status and a class.
 *
 * The protocol's parser and signature check refuse with ReceiptErrorCode (SPEC.md §7); the
 * aggregator's own policy (keys, freshness, replay, bounds, audit) and the HTTP layer add
 * AggregatorErrorCode. Every code maps to exactly one status, so a client can rely on either.
 */
import { ReceiptErrorCode } from "@tops/protocol";

export { ReceiptErrorCode };

/** Codes the aggregator adds to the protocol's. Values equal keys, so they are stable strings on the wire. */
export const AggregatorErrorCode = {
  /** epoch_id is neither the current nor the previous epoch. */
  STALE_EPOCH: "STALE_EPOCH",
  /** epoch_id is fresh but prev_hash_hex is not that epoch's challenge. */
  PREV_HASH_MISMATCH: "PREV_HASH_MISMATCH",
  /** (pubkey, epoch, nonce) or the signature r‖s was accepted before. */
  REPLAY: "REPLAY",
  /** An allow list is configured and pubkey_hex is not on it. */
  KEY_NOT_ALLOWED: "KEY_NOT_ALLOWED",
  /** The key failed an audit recently and is refused for QUARANTINE_SECONDS. */
  KEY_QUARANTINED: "KEY_QUARANTINED",
  /** Sizes are valid for the protocol but above this aggregator's MAX_DIM / MAX_BATCH. */
  SIZES_NOT_ACCEPTED: "SIZES_NOT_ACCEPTED",
  /** An opened row differs from the reference's recomputation of it (the key is quarantined). */
  WORK_ROOT_MISMATCH: "WORK_ROOT_MISMATCH",
  /** The openings are not the requested rows, or a path does not lead to work_root_hex (the key is quarantined). */
  OPENING_MISMATCH: "OPENING_MISMATCH",
  /** POST /audit's body is malformed (not the receipt's errors: those keep the protocol's codes). */
  BAD_OPENINGS: "BAD_OPENINGS",
  /** audit_id was not issued for this receipt by an aggregator sharing this one's secret. */
  BAD_AUDIT_ID: "BAD_AUDIT_ID",
  /** No valid openings arrived within AUDIT_TIMEOUT_MS of the 202: the receipt is refused for good. */
  AUDIT_EXPIRED: "AUDIT_EXPIRED",
  /** The same receipt is being verified right now; retry shortly (503 with Retry-After). */
  IN_PROGRESS: "IN_PROGRESS",
  /** The body is larger than MAX_BODY_BYTES (checked while streaming). */
  BODY_TOO_LARGE: "BODY_TOO_LARGE",
  /** Content-Type is not application/json (UTF-8), or the body has a Content-Encoding. */
  UNSUPPORTED_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  NOT_FOUND: "NOT_FOUND",
  /** A query parameter of GET /devices or /receipts is malformed, out of range or unknown. */
  BAD_QUERY: "BAD_QUERY",
  METHOD_NOT_ALLOWED: "METHOD_NOT_ALLOWED",
  /** Too many audits queued; retry later (503 with Retry-After). */
  OVERLOADED: "OVERLOADED",
  /** The ledger cannot be written or the server is shutting down; retry later (503). */
  UNAVAILABLE: "UNAVAILABLE",
  /** A bug. Never the answer to a bad request. */
  INTERNAL_ERROR: "INTERNAL_ERROR",
} as const;

export type AggregatorErrorCode = (typeof AggregatorErrorCode)[keyof typeof AggregatorErrorCode];

/** Every code a client of POST /verify can see in `{ "error": { "code" } }`. */
export type VerifyErrorCode = ReceiptErrorCode | AggregatorErrorCode;

const receiptStatuses = Object.fromEntries(
  Object.values(ReceiptErrorCode).map((code) => [code, code === ReceiptErrorCode.BAD_SIGNATURE ? 401 : 400]),
) as Record<ReceiptErrorCode, 400 | 401>;

/** HTTP status of each code: 4xx for anything the client got wrong, 5xx only for our own trouble. */
export const ERROR_STATUS: Readonly<Record<VerifyErrorCode, number>> = Object.freeze({
  ...receiptStatuses,
  STALE_EPOCH: 422,
  PREV_HASH_MISMATCH: 422,
  REPLAY: 409,
  KEY_NOT_ALLOWED: 403,
  KEY_QUARANTINED: 403,
  SIZES_NOT_ACCEPTED: 422,
  WORK_ROOT_MISMATCH: 422,
  OPENING_MISMATCH: 422,
  BAD_OPENINGS: 400,
  BAD_AUDIT_ID: 400,
  AUDIT_EXPIRED: 422,
  IN_PROGRESS: 503,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  NOT_FOUND: 404,
  BAD_QUERY: 400,
  METHOD_NOT_ALLOWED: 405,
  OVERLOADED: 503,
  UNAVAILABLE: 503,
  INTERNAL_ERROR: 500,
});

/**
 * How a worker should count a refusal: "signature" for anything about the key or the
 * signature, "unavailable" for our own trouble (worth retrying), "validation" otherwise.
 */
export type ErrorClass = "signature" | "validation" | "unavailable";

const SIGNATURE_CODES: ReadonlySet<string> = new Set<VerifyErrorCode>([
  ReceiptErrorCode.BAD_SIGNATURE, ReceiptErrorCode.BAD_PUBKEY, AggregatorErrorCode.KEY_NOT_ALLOWED, AggregatorErrorCode.KEY_QUARANTINED,
]);

export function errorClassOf(code: string): ErrorClass {
  if (SIGNATURE_CODES.has(code)) return "signature";
  const status = (ERROR_STATUS as Readonly<Record<string, number>>)[code];
  return status !== undefined && status >= 500 ? "unavailable" : "validation";
}

export function isVerifyErrorCode(code: string): code is VerifyErrorCode {
  return Object.hasOwn(ERROR_STATUS, code);
}

/** A refusal on its way to the client: code, status, message and the offending field when known. */
export class VerifyRejection extends Error {
  override readonly name = "VerifyRejection";
  readonly status: number;
  constructor(
    readonly code: VerifyErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.status = ERROR_STATUS[code];
  }

  /** The JSON body: `{ "error": { "code", "message", "field"? } }`. */
  toBody(): { error: { code: VerifyErrorCode; message: string; field?: string } } {
    return { error: { code: this.code, message: this.message, ...(this.field === undefined ? {} : { field: this.field }) } };
  }
}
