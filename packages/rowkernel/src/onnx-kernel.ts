/**
 * The fast row kernel: onnxruntime's MatMulInteger (int8 GEMM, int32 accumulation) runs both
 * layers of the audit rows in one session per size pair (k, n), whose weights are packed once
 * and cached. Exact because every int32 sum is exact (SPEC.md §4.4); a self-test at start
 * checks that the library's kernels on this CPU really are (no saturating shortcuts).
 */
import { W1_KEY, W2_KEY, activationKey, attemptContext, computeRow, shift1, shift2, type GenKey, type Sizes } from "@tops/protocol";
import type * as Ort from "onnxruntime-node";
import { assertRows } from "./check";
import { LruByBytes } from "./lru-cache";
import { A_ZERO_POINT, AUDIT_INPUT, AUDIT_OUTPUT, OnnxType, auditModel, rawBytes, serializeModel, type RawData } from "./onnx-model";
import type { RowKernel } from "./types";
import { generateRows, generateWeights } from "./weights";

export type OrtModule = typeof Ort;

export interface OnnxKernelOptions {
  readonly threads: number;
  readonly cacheBytes: number;
  readonly maxWeightBytes: number;
}

/** onnxruntime's memory for one size pair: the weights and their packed copy. */
export const sessionBytes = (k: number, n: number): number => 2 * (k * n + n * n);

/** Loads onnxruntime from `specifier`; throws with the loader's reason when it cannot. */
export async function loadOnnxRuntime(specifier: string): Promise<OrtModule> {
  const mod = (await import(specifier)) as OrtModule & { default?: OrtModule };
  const ort = typeof mod.InferenceSession === "function" ? mod : mod.default;
  if (!ort || typeof ort.InferenceSession !== "function") throw new Error(`${specifier} has no InferenceSession`);
  return ort;
}

function sessionOptions(threads: number): Ort.InferenceSession.SessionOptions {
  return { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: "sequential", graphOptimizationLevel: "all", logSeverityLevel: 3 };
}

/** int8 → uint8 offset binary (a + 128) in place: flipping the sign bit is adding 128. */
function toOffsetBinary(a: Int8Array): Uint8Array {
  const u = new Uint8Array(a.buffer, a.byteOffset, a.length);
  for (let i = 0; i < u.length; i++) u[i]! ^= 0x80;
  return u;
}

/** The audit session for (k, n): weights generated, serialized into the model, packed by onnxruntime. */
async function auditSession(ort: OrtModule, k: number, n: number, threads: number): Promise<Ort.InferenceSession> {
  const weights = (key: GenKey, depth: number): RawData => ({
    byteLength: depth * n,
    writeInto: (into) => void generateWeights(key, depth, n, { out: new Int8Array(into.buffer, into.byteOffset, into.byteLength) }),
  });
  const model = auditModel({ k, n, w1: weights(W1_KEY, k), w2: weights(W2_KEY, n), shift1: shift1(k), shift2: shift2(n) });
  return ort.InferenceSession.create(model, sessionOptions(threads));
}

async function runAudit(ort: OrtModule, session: Ort.InferenceSession, a: Uint8Array, count: number, k: number): Promise<Uint8Array> {
  const input = new ort.Tensor("uint8", a, [count, k]);
  const out = await session.run({ [AUDIT_INPUT]: input });
  const y = out[AUDIT_OUTPUT];
  if (!y || !(y.data instanceof Uint8Array)) throw new Error("onnxruntime returned no uint8 y2_rows");
  return y.data;
}

/**
 * Why onnxruntime's integer GEMM is not exact here, or null. Extreme operands first: a
 * kernel that sums pairs of u8×s8 products in saturating int16 (`vpmaddubsw`, x86 without
 * VNNI) gets 255·127·2 wrong. Then the audit model itself against `computeRow` at odd sizes.
 */
export async function selfTestProblem(ort: OrtModule): Promise<string | null> {
  const K = 256, N = 64, M = 16;
  const a = new Int8Array(M * K);
  const w = new Int8Array(K * N);
  let s = 0x9e3779b9;
  const next = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) | 0) >> 24);
  for (let i = 0; i < K; i++) for (let j = 0; j < N; j++) w[i * N + j] = j === 0 ? 127 : j === 1 ? -128 : next();
  for (let r = 0; r < M; r++) for (let i = 0; i < K; i++) a[r * K + i] = r === 0 ? 127 : r === 1 ? -128 : next();
  const expected = new Int32Array(M * N);
  for (let r = 0; r < M; r++) for (let j = 0; j < N; j++) {
    let acc = 0;
    for (let i = 0; i < K; i++) acc += a[r * K + i]! * w[i * N + j]!;
    expected[r * N + j] = acc;
  }
  const model = serializeModel({
    inputs: [{ name: "a", type: OnnxType.UINT8, dims: [M, K] }],
    outputs: [{ name: "acc", type: OnnxType.INT32, dims: [M, N] }],
    initializers: [
      { name: "w", type: OnnxType.INT8, dims: [K, N], raw: rawBytes(new Uint8Array(w.buffer)) },
      { name: "zp", type: OnnxType.UINT8, dims: [], raw: rawBytes(Uint8Array.of(A_ZERO_POINT)) },
    ],
    nodes: [{ op: "MatMulInteger", inputs: ["a", "w", "zp"], output: "acc" }],
  });
  const gemm = await ort.InferenceSession.create(model, sessionOptions(1));
  try {
    const out = await gemm.run({ a: new ort.Tensor("uint8", toOffsetBinary(a.slice()), [M, K]) });
    const got = out.acc?.data;
    if (!(got instanceof Int32Array)) return "MatMulInteger returned no int32 tensor";
    const bad = expected.findIndex((v, i) => got[i] !== v);
    if (bad >= 0) return `MatMulInteger is not exact on this CPU: [${Math.floor(bad / N)}][${bad % N}] = ${got[bad]}, expected ${expected[bad]}`;
  } finally {
    await gemm.release();
  }
  for (const sizes of [{ m: 9, n: 37, k: 29, batch: 2 }, { m: 5, n: 3, k: 70, batch: 1 }]) {
    const seed = Uint8Array.from({ length: 32 }, (_, i) => i * 11 + sizes.n);
    const rows = Array.from({ length: sizes.m * sizes.batch }, (_, i) => i);
    const session = await auditSession(ort, sizes.k, sizes.n, 1);
    try {
      const y = await runAudit(ort, session, toOffsetBinary(generateRows(activationKey(seed), rows, sizes.k)), rows.length, sizes.k);
      const ctx = attemptContext(seed, sizes);
      for (const r of rows) {
        const ref = computeRow(ctx, r);
        const j = ref.findIndex((v, c) => y[r * sizes.n + c] !== v);
        if (j >= 0) return `the audit model differs from computeRow at k=${sizes.k} n=${sizes.n} row ${r} column ${j}`;
      }
    } finally {
      await session.release();
    }
  }
  return null;
}

export function onnxKernel(ort: OrtModule, { threads, cacheBytes, maxWeightBytes }: OnnxKernelOptions): RowKernel {
  const sessions = new LruByBytes<Ort.InferenceSession>(cacheBytes, (s) => s.release());
  let closed = false;
  const version = ort.env.versions.node ?? ort.env.versions.common;
  return {
    name: `onnxruntime-node ${version} MatMulInteger u8×s8→i32, ${threads} thread${threads === 1 ? "" : "s"}`,
    native: true,
    async rows(seed: Uint8Array, sizes: Sizes, rows: readonly number[]): Promise<Uint8Array[]> {
      if (closed) throw new Error("the row kernel is closed");
      assertRows(seed, sizes, rows, maxWeightBytes);
      if (rows.length === 0) return [];
      const { k, n } = sizes;
      const a = toOffsetBinary(generateRows(activationKey(seed), rows, k));
      const y = await sessions.with(
        `${k}x${n}`,
        sessionBytes(k, n),
        () => auditSession(ort, k, n, threads),
        (session) => runAudit(ort, session, a, rows.length, k),
      );
      return rows.map((_, i) => y.slice(i * n, (i + 1) * n));
    },
    async close(): Promise<void> {
      closed = true;
      await sessions.clear();
    },
  };
}
