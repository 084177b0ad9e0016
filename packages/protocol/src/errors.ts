/** Stable error codes for receipts that cannot be accepted (SPEC.md §7). */
export const ReceiptErrorCode = {
  RECEIPT_TOO_LARGE: "RECEIPT_TOO_LARGE",
  INVALID_JSON: "INVALID_JSON",
  NOT_AN_OBJECT: "NOT_AN_OBJECT",
  DUPLICATE_FIELD: "DUPLICATE_FIELD",
  UNKNOWN_FIELD: "UNKNOWN_FIELD",
  MISSING_FIELD: "MISSING_FIELD",
  WRONG_TYPE: "WRONG_TYPE",
  NOT_AN_INTEGER: "NOT_AN_INTEGER",
  INTEGER_OUT_OF_RANGE: "INTEGER_OUT_OF_RANGE",
  BAD_HEX: "BAD_HEX",
  BAD_STRING: "BAD_STRING",
  FIELD_ORDER: "FIELD_ORDER",
  SIZES_OUT_OF_BOUNDS: "SIZES_OUT_OF_BOUNDS",
  UNKNOWN_VERSION: "UNKNOWN_VERSION",
  BAD_PUBKEY: "BAD_PUBKEY",
  BAD_SIGNATURE: "BAD_SIGNATURE",
} as const;

export type ReceiptErrorCode = (typeof ReceiptErrorCode)[keyof typeof ReceiptErrorCode];

export class ReceiptError extends Error {
  override readonly name = "ReceiptError";
  constructor(
    readonly code: ReceiptErrorCode,
    message: string,
    /** Dotted path of the offending field, when there is one (e.g. "sizes.m"). */
    readonly field?: string,
  ) {
    super(message);
  }
}
