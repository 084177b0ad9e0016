/**
 * The audit exchange (SPEC.md §8): an aggregator asks for a few rows of y2, the worker opens
 * them (row bytes + Merkle path), and the aggregator checks the paths against work_root and
 * recomputes those rows with the row-at-a-time reference. The cost of a check is
 * rows · (k·n + n²) multiply-adds, whatever m and batch are.
 */
import { bytesToHex, hexToBytes, isLowerHex, utf8 } from "./bytes";
import { MAX_RECEIPT_BYTES } from "./constants";
import { pathLength, rootFromPath, rowCount, type MerkleTree } from "./merkle";
import { attemptContext, computeRow, type RowScratch, type Sizes } from "./pipeline";
import { parseReceipt, serializeReceipt, type Receipt } from "./receipt";

/** What a 202 answer to POST /verify carries under "audit". */
export interface AuditRequest {
  /** Opaque, at most 128 printable ASCII characters; sent back with the openings. */
  readonly audit_id: string;
  /** Distinct global row indices of y2 to open, in the order the openings must follow. */
  readonly rows: readonly number[];
  /** Unix milliseconds: openings received later are refused (AUDIT_EXPIRED). */
  readonly expires_at: number;
}

export interface RowOpening {
  readonly row: number;
  /** y2[row], n bytes, lowercase hex. */
  readonly y2_hex: string;
  /** Sibling hashes from the leaf up (merkle.ts), lowercase hex. */
  readonly path: readonly string[];
}

/** Body of POST /audit: the receipt travels again so any aggregator sharing the secret can finish the audit. */
export interface OpeningsBody {
  readonly audit_id: string;
  readonly receipt: Receipt;
  readonly openings: readonly RowOpening[];
}

export const MAX_AUDIT_ID_LENGTH = 128;

export class OpeningsError extends Error {
  override readonly name = "OpeningsError";
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Largest OpeningsBody for `rows` rows at these sizes: what a server should allow for the body. */
export function maxOpeningsBytes(sizes: Sizes, rows: number): number {
  const depth = Math.ceil(Math.log2(Math.max(2, rowCount(sizes))));
  const perRow = 40 + 2 * sizes.n + depth * 67;
  return MAX_RECEIPT_BYTES + 64 + MAX_AUDIT_ID_LENGTH + rows * perRow;
}

/** Opens `rows` of an attempt from its tree and a source of row bytes (kept, or recomputed from the seed). */
export function openRows(tree: MerkleTree, rows: readonly number[], rowBytes: (row: number) => Uint8Array): RowOpening[] {
  return rows.map((row) => ({ row, y2_hex: bytesToHex(rowBytes(row)), path: tree.path(row).map(bytesToHex) }));
}

export function serializeOpenings(body: OpeningsBody): string {
  return `{"audit_id":${JSON.stringify(body.audit_id)},"receipt":${serializeReceipt(body.receipt)},"openings":${JSON.stringify(
    body.openings.map((o) => ({ row: o.row, y2_hex: o.y2_hex, path: o.path })),
  )}}`;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Parses POST /audit's body. The receipt inside is parsed as strictly as on /verify (a
 * ReceiptError propagates); the openings' shape is checked against the receipt's sizes.
 * Paths and row contents are checked by openingsProblem / auditRows, not here.
 */
export function parseOpenings(text: string): OpeningsBody {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new OpeningsError(`the body is not JSON: ${(e as Error).message}`);
  }
  if (!isRecord(value)) throw new OpeningsError("the body must be a JSON object");
  for (const key of Object.keys(value)) {
    if (key !== "audit_id" && key !== "receipt" && key !== "openings") throw new OpeningsError(`unknown field "${key}"`, key);
  }
  const { audit_id, receipt, openings } = value;
  if (typeof audit_id !== "string" || audit_id.length === 0 || audit_id.length > MAX_AUDIT_ID_LENGTH || !/^[\x21-\x7e]+$/.test(audit_id)) {
    throw new OpeningsError(`audit_id must be 1..${MAX_AUDIT_ID_LENGTH} printable ASCII characters`, "audit_id");
  }
  if (!isRecord(receipt)) throw new OpeningsError("receipt must be the receipt object as sent to /verify", "receipt");
  const parsed = parseReceipt(utf8(JSON.stringify(receipt)));
  if (!Array.isArray(openings)) throw new OpeningsError("openings must be an array", "openings");
  const rows = rowCount(parsed.sizes);
  const list = openings.map((o: unknown, i): RowOpening => {
    const at = `openings[${i}]`;
    if (!isRecord(o)) throw new OpeningsError(`${at} must be an object`, at);
    const keys = Object.keys(o);
    if (keys.length !== 3 || !("row" in o) || !("y2_hex" in o) || !("path" in o)) throw new OpeningsError(`${at} must have exactly row, y2_hex and path`, at);
    const { row, y2_hex, path } = o;
    if (typeof row !== "number" || !Number.isInteger(row) || row < 0 || row >= rows) throw new OpeningsError(`${at}.row must be an integer in 0..${rows - 1}`, `${at}.row`);
    if (typeof y2_hex !== "string" || !isLowerHex(y2_hex, parsed.sizes.n)) throw new OpeningsError(`${at}.y2_hex must be ${parsed.sizes.n} bytes of lowercase hex`, `${at}.y2_hex`);
    if (!Array.isArray(path) || path.length !== pathLength(rows, row) || !path.every((p) => typeof p === "string" && isLowerHex(p, 32))) {
      throw new OpeningsError(`${at}.path must be ${pathLength(rows, row)} hashes of 64 lowercase hex`, `${at}.path`);
    }
    return { row, y2_hex, path: path as string[] };
  });
  return { audit_id, receipt: parsed, openings: list };
}

/**
 * Why these openings do not answer the request for `rows` of `receipt`, or null: the rows must
 * be exactly the requested ones, in order, and every path must lead to work_root.
 */
export function openingsProblem(receipt: Receipt, rows: readonly number[], openings: readonly RowOpening[]): { reason: string; row?: number } | null {
  if (openings.length !== rows.length || openings.some((o, i) => o.row !== rows[i])) {
    return { reason: `the openings must be rows ${rows.join(", ")} in that order` };
  }
  for (const o of openings) {
    const root = rootFromPath(receipt.sizes, o.row, hexToBytes(o.y2_hex), o.path.map(hexToBytes));
    if (root === null || bytesToHex(root) !== receipt.work_root_hex) return { reason: `the path of row ${o.row} does not lead to work_root_hex`, row: o.row };
  }
  return null;
}

/** Recomputes rows with the reference: `rows` row-at-a-time computations from the seed. */
export function referenceRows(seed: Uint8Array, sizes: Sizes, rows: readonly number[]): Uint8Array[] {
  const ctx = attemptContext(seed, sizes);
  const scratch: RowScratch = { a: new Int8Array(sizes.k), y1: new Int32Array(sizes.n) };
  return rows.map((row) => computeRow(ctx, row, new Uint8Array(sizes.n), scratch));
}

/** Multiply-adds an audit of `rows` rows costs: independent of m and batch. */
export const auditMacs = (sizes: Sizes, rows: number): number => rows * (sizes.k * sizes.n + sizes.n * sizes.n);

