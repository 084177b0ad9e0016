/**
 * BLAKE3 building blocks in WGSL: the compression function (unrolled) and its constants. The
 * work_root kernels that use them are in merkle.ts; tests compare them with the protocol's
 * TypeScript (@noble/hashes) around every chunk boundary.
 */

const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
const PERMUTATION = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
export const CHUNK_START = 1;
export const CHUNK_END = 2;
export const PARENT = 4;
export const ROOT = 8;

export const CHUNK_BYTES = 1024;

const hex = (v: number): string => `0x${v.toString(16).padStart(8, "0")}u`;

/** The compression function unrolled: message words are renamed per round instead of permuted. */
function compressBody(): string {
  const lines: string[] = [];
  let schedule = Array.from({ length: 16 }, (_, i) => i);
  const g = (a: number, b: number, c: number, d: number, x: number, y: number): void => {
    lines.push(
      `  s${a} = s${a} + s${b} + m${x}; s${d} = rotr(s${d} ^ s${a}, 16u); s${c} = s${c} + s${d}; s${b} = rotr(s${b} ^ s${c}, 12u);`,
      `  s${a} = s${a} + s${b} + m${y}; s${d} = rotr(s${d} ^ s${a}, 8u); s${c} = s${c} + s${d}; s${b} = rotr(s${b} ^ s${c}, 7u);`,
    );
  };
  for (let round = 0; round < 7; round++) {
    const m = schedule;
    g(0, 4, 8, 12, m[0]!, m[1]!);
    g(1, 5, 9, 13, m[2]!, m[3]!);
    g(2, 6, 10, 14, m[4]!, m[5]!);
    g(3, 7, 11, 15, m[6]!, m[7]!);
    g(0, 5, 10, 15, m[8]!, m[9]!);
    g(1, 6, 11, 12, m[10]!, m[11]!);
    g(2, 7, 8, 13, m[12]!, m[13]!);
    g(3, 4, 9, 14, m[14]!, m[15]!);
    schedule = PERMUTATION.map((p) => m[p]!);
  }
  return lines.join("\n");
}

export const COMPRESS = /* wgsl */ `
fn rotr(x: u32, n: u32) -> u32 { return (x >> n) | (x << (32u - n)); }

// BLAKE3 compression truncated to the 8 words a chaining value or a 32-byte root needs.
fn compress(cv: array<u32, 8>, mw: array<u32, 16>, counter: u32, blockLen: u32, flags: u32) -> array<u32, 8> {
${Array.from({ length: 16 }, (_, i) => `  let m${i} = mw[${i}];`).join("\n")}
${Array.from({ length: 8 }, (_, i) => `  var s${i} = cv[${i}];`).join("\n")}
${IV.slice(0, 4)
  .map((v, i) => `  var s${8 + i} = ${hex(v)};`)
  .join("\n")}
  var s12 = counter;
  var s13 = 0u;
  var s14 = blockLen;
  var s15 = flags;
${compressBody()}
  return array<u32, 8>(${Array.from({ length: 8 }, (_, i) => `s${i} ^ s${i + 8}`).join(", ")});
}

const IV = array<u32, 8>(${IV.map(hex).join(", ")});
`;
