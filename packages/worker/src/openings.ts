/**
 * Answers audits (SPEC.md §8): opens the requested rows of a receipt the worker signed.
 *
 * What an opening needs is the row's bytes and its Merkle path. The worker keeps the row
 * leaves of its recent attempts (32 bytes per row, OPENINGS_MEMORY_MB in all, oldest dropped
 * first) and recomputes the few requested rows from the seed with the row-at-a-time reference,
 * so it never holds y2. A receipt whose leaves are gone (dropped, or the worker restarted and
 * is resubmitting from the spool) is recomputed whole by the engine, once, on demand. The rows
 * come from a row kernel (@tops/rowkernel: onnxruntime's int8 GEMM, off the event loop) or the
 * protocol's reference.
 *
 * Every recomputed row is checked against the leaf the GPU produced: a GPU that computed a row
 * wrong is caught here, by its own worker, before the aggregator quarantines the key.
 */
import {
  deriveSeed, hexToBytes, MerkleTree, openRows, referenceRows, rowLeaf, bytesToHex,
  type Receipt, type RowOpening, type Sizes,
} from "@tops/protocol";

/** What the opener needs of the engine: a whole attempt again, for receipts whose leaves are gone. */
export interface LeafEngine {
  runAttempt(input: { seed: Uint8Array; sizes: Sizes }): Promise<{ workRoot: Uint8Array; leaves: Uint8Array }>;
}

/** Leaves of recent attempts by work_root, bounded in bytes; least recently kept goes first. */
export class AttemptMemory {
  private readonly byRoot = new Map<string, Uint8Array>();
  private bytes = 0;

  constructor(readonly maxBytes: number) {}

  keep(workRootHex: string, leaves: Uint8Array): void {
    if (leaves.length > this.maxBytes) return;
    this.drop(workRootHex);
    this.byRoot.set(workRootHex, leaves);
    this.bytes += leaves.length;
    while (this.bytes > this.maxBytes) this.drop(this.byRoot.keys().next().value as string);
  }

  get(workRootHex: string): Uint8Array | undefined {
    return this.byRoot.get(workRootHex);
  }

  drop(workRootHex: string): void {
    const leaves = this.byRoot.get(workRootHex);
    if (!leaves) return;
    this.byRoot.delete(workRootHex);
    this.bytes -= leaves.length;
  }

  get size(): number {
    return this.byRoot.size;
  }

  get usedBytes(): number {
    return this.bytes;
  }
}

/** The worker cannot open its own receipt: its GPU's rows or root disagree with the reference. */
export class OpeningError extends Error {
  override readonly name = "OpeningError";
  constructor(
    readonly code: "GPU_ROW_MISMATCH" | "WORK_ROOT_NOT_REPRODUCED",
    message: string,
  ) {
    super(message);
  }
}

/** Computes rows of y2 from the seed (a @tops/rowkernel RowKernel's `rows`). */
export type RowSource = (seed: Uint8Array, sizes: Sizes, rows: readonly number[]) => Promise<Uint8Array[]>;

/** The protocol's reference, on the calling thread. */
export const referenceRowSource: RowSource = async (seed, sizes, rows) => referenceRows(seed, sizes, rows);

export class RowOpener {
  constructor(
    private readonly memory: AttemptMemory,
    private readonly engine: LeafEngine,
    private readonly rowSource: RowSource = referenceRowSource,
  ) {}

  async open(r: Receipt, rows: readonly number[]): Promise<RowOpening[]> {
    const seed = deriveSeed({ pubkey: hexToBytes(r.pubkey_hex), prevHash: hexToBytes(r.prev_hash_hex), deviceDid: r.device_did, nonce: r.nonce });
    let leaves = this.memory.get(r.work_root_hex);
    if (!leaves) {
      const again = await this.engine.runAttempt({ seed, sizes: r.sizes });
      if (bytesToHex(again.workRoot) !== r.work_root_hex) {
        throw new OpeningError("WORK_ROOT_NOT_REPRODUCED", "recomputing the attempt gave another work_root than the receipt's");
      }
      leaves = again.leaves;
    }
    const tree = MerkleTree.fromLeaves(leaves);
    if (bytesToHex(tree.root) !== r.work_root_hex) throw new OpeningError("WORK_ROOT_NOT_REPRODUCED", "the kept leaves do not give the receipt's work_root");
    const computed = await this.rowSource(seed, r.sizes, rows);
    computed.forEach((bytes, i) => {
      const row = rows[i]!;
      const leaf = rowLeaf(r.sizes, row, bytes);
      if (bytesToHex(leaf) !== bytesToHex(leaves.subarray(row * 32, row * 32 + 32))) {
        throw new OpeningError("GPU_ROW_MISMATCH", `row ${row} as the GPU computed it differs from the reference: the engine is not exact on this device`);
      }
    });
    const byRow = new Map(rows.map((row, i) => [row, computed[i]!]));
    return openRows(tree, rows, (row) => byRow.get(row)!);
  }
}
