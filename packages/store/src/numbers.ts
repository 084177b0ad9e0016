/**
 * BIGINT columns come back as strings (pg), numbers or bigints (PGlite). These convert them
 * without silent precision loss.
 */

/** A BIGINT that must fit a JS number (seq, Unix ms, epoch ids, nonces, counts). */
export function toSafeInteger(value: unknown, what: string): number {
  const n = typeof value === "number" ? value : typeof value === "bigint" || typeof value === "string" ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new RangeError(`${what}: ${String(value)} is not a safe integer`);
  return n;
}

/** A BIGINT or NUMERIC integer of any size (ops, sums of ops). */
export function toBigInt(value: unknown, what: string): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === "string" && /^-?\d+$/.test(value)) return BigInt(value);
  throw new RangeError(`${what}: ${String(value)} is not an integer`);
}

const INT8_MAX = (1n << 63n) - 1n;

/** Ops as a BIGINT parameter (decimal text, accepted by both engines for an int8 parameter). */
export function opsParam(ops: number | bigint): string {
  if (typeof ops === "number" && !Number.isSafeInteger(ops)) throw new RangeError(`ops ${ops} is not a safe integer; pass a bigint`);
  const big = BigInt(ops);
  if (big < 0n || big > INT8_MAX) throw new RangeError(`ops ${big} is outside 0..2^63-1`);
  return big.toString();
}
