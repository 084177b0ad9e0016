/** Byte helpers: strict lowercase hex and little-endian integers, as the spec writes them. */

const LOWER_HEX = /^(?:[0-9a-f]{2})*$/;

export function isLowerHex(s: string, byteLength?: number): boolean {
  if (!LOWER_HEX.test(s)) return false;
  return byteLength === undefined || s.length === byteLength * 2;
}

export function hexToBytes(hex: string): Uint8Array {
  if (!LOWER_HEX.test(hex)) throw new TypeError("hex must be lowercase, even-length, [0-9a-f] only");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function u32le(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

/** 64-bit little-endian of a non-negative safe integer. */
export function u64le(v: number): Uint8Array {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`u64le needs a non-negative safe integer, got ${v}`);
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  return b;
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
