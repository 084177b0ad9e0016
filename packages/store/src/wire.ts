/**
 * The messages of one prepared-statement call on PostgreSQL's wire protocol (v3, frontend):
 * Bind (unnamed portal), Describe (portal), Execute (all rows), Sync, in one buffer.
 *
 * PGlite's serializer builds Bind in a growing buffer and counts each string's UTF-8 bytes in a
 * JavaScript loop over its characters; the accept statement's parameter is one JSON text of
 * ≈1 kB per receipt, so that loop, the buffer's regrowth and the copies were a fifth of the
 * database thread's time under load. Here the sizes come from Buffer.byteLength (native) and
 * the message is written once into a buffer of its exact size. Same bytes as PGlite's
 * serialize.bind + describe({type:"P"}) + execute({}) + sync() (test/wire.test.ts).
 */

/** A parameter as it goes on the wire: text, binary, or NULL. */
export type WireValue = string | Uint8Array | null;

/** Describe portal "" (D), Execute portal "" with no row limit (E), Sync (S). */
const DESCRIBE_EXECUTE_SYNC = Uint8Array.from([0x44, 0, 0, 0, 6, 0x50, 0, 0x45, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0x53, 0, 0, 0, 4]);

export function bindDescribeExecuteSync(statement: string, values: readonly WireValue[]): Uint8Array {
  const nameBytes = Buffer.byteLength(statement, "utf8");
  const sizes = values.map((v) => (v === null ? 0 : typeof v === "string" ? Buffer.byteLength(v, "utf8") : v.byteLength));
  // Bind body: portal "\0", statement name "\0", format codes (int16 count + one per value),
  // values (int16 count + int32 length and bytes each), result formats (int16 0: all text).
  const bodyLength = 1 + nameBytes + 1 + 2 + 2 * values.length + 2 + sizes.reduce((n, s) => n + 4 + s, 0) + 2;
  const out = Buffer.allocUnsafeSlow(1 + 4 + bodyLength + DESCRIBE_EXECUTE_SYNC.length);
  let at = out.writeUInt8(0x42, 0); // 'B'
  at = out.writeInt32BE(4 + bodyLength, at);
  at = out.writeUInt8(0, at); // unnamed portal
  at += out.write(statement, at, "utf8");
  at = out.writeUInt8(0, at);
  at = out.writeUInt16BE(values.length, at);
  for (const v of values) at = out.writeInt16BE(v instanceof Uint8Array ? 1 : 0, at);
  at = out.writeUInt16BE(values.length, at);
  values.forEach((v, i) => {
    if (v === null) {
      at = out.writeInt32BE(-1, at);
      return;
    }
    at = out.writeInt32BE(sizes[i] as number, at);
    at += typeof v === "string" ? out.write(v, at, "utf8") : (out.set(v, at), v.byteLength);
  });
  at = out.writeInt16BE(0, at);
  out.set(DESCRIBE_EXECUTE_SYNC, at);
  return out;
}
