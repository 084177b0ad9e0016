/** wire.ts must write exactly the bytes PGlite's own serializer writes for the same call. */
import { protocol } from "@electric-sql/pglite";
import { describe, expect, it } from "vitest";
import { concatBytes } from "@tops/protocol";
import { bindDescribeExecuteSync, type WireValue } from "../src/wire";

function pgliteBytes(statement: string, values: readonly WireValue[]): Uint8Array {
  const { serialize } = protocol;
  return concatBytes(serialize.bind({ statement, values: [...values] }), serialize.describe({ type: "P" }), serialize.execute({}), serialize.sync());
}

const CASES: [string, string, WireValue[]][] = [
  ["no parameters, unnamed statement", "", []],
  ["a named statement and plain text", "tops_1", ["SELECT", "42"]],
  ["NULL between values", "tops_2", ["a", null, "b", null]],
  ["multi-byte UTF-8: 2, 3 and 4 bytes, in the name too", "tops_ü", ["é", "€ and ✓", "😀 surrogate pair", "\u0000 inside"]],
  ["a binary value next to text", "tops_3", [Uint8Array.from([0, 1, 254, 255]), "x", new Uint8Array(0)]],
  ["an empty string is not NULL", "tops_4", ["", null]],
  ["a large JSON text (a batch of receipts)", "tops_5", [JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ i, s: `"q"\\ ${"ab".repeat(300)} ü` })))]],
];

describe("bindDescribeExecuteSync", () => {
  it.each(CASES)("writes PGlite's bytes: %s", (_name, statement, values) => {
    expect(Buffer.from(bindDescribeExecuteSync(statement, values)).equals(Buffer.from(pgliteBytes(statement, values)))).toBe(true);
  });

  it("is a buffer of its own (offset 0, exact length), not a slice of a shared pool", () => {
    const out = bindDescribeExecuteSync("s", ["x"]);
    expect(out.byteOffset).toBe(0);
    expect(out.buffer.byteLength).toBe(out.byteLength);
  });
});
