/**
 * Serializes the audit pipeline (SPEC.md §4.3) as an ONNX model, for onnxruntime.
 *
 * Only the few ONNX messages the model needs are written, field numbers from onnx.proto;
 * @bufbuild/protobuf does the wire format. The weights are initializers so onnxruntime
 * packs them once, when the session is created, instead of on every run. Large tensors are
 * filled in place in the final buffer (no copies of up to 32 MiB of weights).
 */
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/** onnx.proto TensorProto.DataType values used here. */
export const OnnxType = { UINT8: 2, INT8: 3, INT32: 6 } as const;
export type OnnxType = (typeof OnnxType)[keyof typeof OnnxType];

/** onnx.proto AttributeProto.AttributeType.INT. */
const ATTRIBUTE_INT = 2;

/** Tensor bytes written straight into the model buffer. */
export interface RawData {
  readonly byteLength: number;
  writeInto(into: Uint8Array): void;
}

export const rawBytes = (bytes: Uint8Array): RawData => ({ byteLength: bytes.byteLength, writeInto: (into) => into.set(bytes) });

interface Initializer {
  readonly name: string;
  readonly type: OnnxType;
  readonly dims: readonly number[];
  /** Little-endian, row-major. */
  readonly raw: RawData;
}

interface Node {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly output: string;
  readonly intAttributes?: Readonly<Record<string, number>>;
}

interface Value {
  readonly name: string;
  readonly type: OnnxType;
  /** A number is a fixed size, a string a symbolic one (any size at run time). */
  readonly dims: readonly (number | string)[];
}

export interface Graph {
  readonly nodes: readonly Node[];
  readonly initializers: readonly Initializer[];
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
}

const LEN = WireType.LengthDelimited;
const VARINT = WireType.Varint;

/** TensorProto up to raw_data's length prefix; the bytes follow it in the model buffer. */
function writeTensorHead(w: BinaryWriter, t: Initializer): void {
  for (const d of t.dims) w.tag(1, VARINT).int64(d); // dims
  w.tag(2, VARINT).int32(t.type); // data_type
  w.tag(8, LEN).string(t.name); // name
  w.tag(9, LEN).uint32(t.raw.byteLength); // raw_data
}

function writeNode(w: BinaryWriter, n: Node): void {
  for (const i of n.inputs) w.tag(1, LEN).string(i);
  w.tag(2, LEN).string(n.output);
  w.tag(3, LEN).string(n.output); // name: one output per node, so it names the node too
  w.tag(4, LEN).string(n.op); // op_type
  for (const [name, value] of Object.entries(n.intAttributes ?? {})) {
    w.tag(5, LEN).fork(); // AttributeProto
    w.tag(1, LEN).string(name);
    w.tag(3, VARINT).int64(value); // i
    w.tag(20, VARINT).int32(ATTRIBUTE_INT); // type
    w.join();
  }
}

function writeValueInfo(w: BinaryWriter, v: Value): void {
  w.tag(1, LEN).string(v.name);
  w.tag(2, LEN).fork(); // TypeProto
  w.tag(1, LEN).fork(); // TypeProto.Tensor
  w.tag(1, VARINT).int32(v.type); // elem_type
  w.tag(2, LEN).fork(); // TensorShapeProto
  for (const d of v.dims) {
    w.tag(1, LEN).fork(); // Dimension
    if (typeof d === "number") w.tag(1, VARINT).int64(d);
    else w.tag(2, LEN).string(d);
    w.join();
  }
  w.join().join().join();
}

const encode = (write: (w: BinaryWriter) => void): Uint8Array => {
  const w = new BinaryWriter();
  write(w);
  return w.finish();
};

/** ModelProto bytes (IR version 8, default-domain opset 17) holding `graph`. */
export function serializeModel(graph: Graph): Uint8Array {
  const graphParts: (Uint8Array | RawData)[] = [
    encode((w) => {
      for (const n of graph.nodes) {
        w.tag(1, LEN).fork();
        writeNode(w, n);
        w.join();
      }
      w.tag(2, LEN).string("audit_rows");
    }),
  ];
  for (const t of graph.initializers) {
    const head = encode((w) => writeTensorHead(w, t));
    graphParts.push(encode((w) => w.tag(5, LEN).uint32(head.byteLength + t.raw.byteLength)), head, t.raw);
  }
  graphParts.push(
    encode((w) => {
      for (const [field, values] of [[11, graph.inputs], [12, graph.outputs]] as const) {
        for (const v of values) {
          w.tag(field, LEN).fork();
          writeValueInfo(w, v);
          w.join();
        }
      }
    }),
  );
  const graphBytes = graphParts.reduce((sum, p) => sum + p.byteLength, 0);
  const head = encode((w) => {
    w.tag(1, VARINT).int64(8); // ir_version
    w.tag(2, LEN).string("@tops/rowkernel"); // producer_name
    w.tag(8, LEN).fork().tag(1, LEN).string("").tag(2, VARINT).int64(17).join(); // opset_import
    w.tag(7, LEN).uint32(graphBytes); // graph
  });
  const model = new Uint8Array(head.byteLength + graphBytes);
  model.set(head);
  let at = head.byteLength;
  for (const part of graphParts) {
    const into = model.subarray(at, at + part.byteLength);
    if (part instanceof Uint8Array) into.set(part);
    else part.writeInto(into);
    at += part.byteLength;
  }
  return model;
}

const int32Scalar = (name: string, value: number): Initializer => ({
  name,
  type: OnnxType.INT32,
  dims: [],
  raw: rawBytes(new Uint8Array(Int32Array.of(value).buffer)),
});

/**
 * Nodes for requant(acc, s) = min((max(acc, 0) + 2^(s−1)) >> s, 127) as uint8 (SPEC.md §4.2).
 * Integer Div truncates, which is the floor here because its operand is never negative.
 */
function requantNodes(acc: string, layer: string, out: string): Node[] {
  return [
    { op: "Max", inputs: [acc, "zero"], output: `${layer}_relu` },
    { op: "Add", inputs: [`${layer}_relu`, `${layer}_half`], output: `${layer}_rounded` },
    { op: "Div", inputs: [`${layer}_rounded`, `${layer}_scale`], output: `${layer}_shifted` },
    { op: "Min", inputs: [`${layer}_shifted`, "clamp"], output: `${layer}_clamped` },
    { op: "Cast", inputs: [`${layer}_clamped`], output: out, intAttributes: { to: OnnxType.UINT8 } },
  ];
}

export interface AuditModelInput {
  readonly k: number;
  readonly n: number;
  /** W1 row-major (k×n): row i holds W1[i][0..n). */
  readonly w1: RawData;
  /** W2 row-major (n×n). */
  readonly w2: RawData;
  readonly shift1: number;
  readonly shift2: number;
}

/** Input and output names of the audit model. */
export const AUDIT_INPUT = "a_rows";
export const AUDIT_OUTPUT = "y2_rows";
/** a_rows holds a + A_ZERO_POINT as uint8. */
export const A_ZERO_POINT = 128;

/**
 * The audit model: a_rows (R×k, R free) → y2_rows (R×n uint8), both layers and both
 * requantizations. MatMulInteger accumulates in int32, so the result is exact (SPEC.md §4.4).
 *
 * A enters as uint8 offset binary (a + 128) with zero point 128: onnxruntime's x86 kernels
 * are fast for uint8 × int8 (VNNI `vpdpbusd`) and about 20× slower for int8 × int8. The
 * zero point is subtracted exactly in int32. y1 is in 0..127, so layer 2 is uint8 × int8 as is.
 */
export function auditModel(m: AuditModelInput): Uint8Array {
  return serializeModel({
    inputs: [{ name: AUDIT_INPUT, type: OnnxType.UINT8, dims: ["rows", m.k] }],
    outputs: [{ name: AUDIT_OUTPUT, type: OnnxType.UINT8, dims: ["rows", m.n] }],
    initializers: [
      { name: "w1", type: OnnxType.INT8, dims: [m.k, m.n], raw: m.w1 },
      { name: "w2", type: OnnxType.INT8, dims: [m.n, m.n], raw: m.w2 },
      { name: "a_zero_point", type: OnnxType.UINT8, dims: [], raw: rawBytes(Uint8Array.of(A_ZERO_POINT)) },
      int32Scalar("zero", 0),
      int32Scalar("clamp", 127),
      int32Scalar("l1_half", 1 << (m.shift1 - 1)),
      int32Scalar("l1_scale", 2 ** m.shift1),
      int32Scalar("l2_half", 1 << (m.shift2 - 1)),
      int32Scalar("l2_scale", 2 ** m.shift2),
    ],
    nodes: [
      { op: "MatMulInteger", inputs: [AUDIT_INPUT, "w1", "a_zero_point"], output: "acc1" },
      ...requantNodes("acc1", "l1", "y1"),
      { op: "MatMulInteger", inputs: ["y1", "w2"], output: "acc2" },
      ...requantNodes("acc2", "l2", AUDIT_OUTPUT),
    ],
  });
}
