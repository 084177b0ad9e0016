/** Protocol constants (SPEC.md §1). Changing any of these is a new protocol version. */

export const PROTOCOL_VERSION = 2;

/** Domain-separation prefixes, each hashed followed by one 0x00 byte. */
export const DOMAIN_SEED = "tops-work/v2/seed";
export const DOMAIN_WEIGHTS_W1 = "tops-work/v1/weights/w1";
export const DOMAIN_WEIGHTS_W2 = "tops-work/v1/weights/w2";
/** Row leaves and tree nodes of the work_root Merkle tree (SPEC.md §5); used as 32-byte prefixes. */
export const DOMAIN_LEAF = "tops-work/v2/leaf";
export const DOMAIN_NODE = "tops-work/v2/node";

/**
 * Size bounds. With int8 inputs every product is at most 2^14 in magnitude, so with
 * k, n <= 2^16 every int32 accumulator stays within 2^30 (SPEC.md §4.4).
 */
export const MAX_DIM = 65536;
export const MAX_BATCH = 1024;
/** batch·m, the number of rows of y2; keeps every row index within u32 and GPU dispatch limits. */
export const MAX_ROWS = 1 << 24;

/** Longest string field (device_did, kernel_ver, driver_hint), in UTF-16 code units. */
export const MAX_STRING_LENGTH = 256;
/** Largest receipt JSON accepted by the parser, in bytes. */
export const MAX_RECEIPT_BYTES = 4096;
