/**
 * Keys that failed an audit, refused until a deadline. Kept in DATA_DIR/quarantine.jsonl so
 * that restarting the aggregator does not pardon a cheating key:
 *
 *   {"pubkey_hex":"02…","since":1767225600123,"until":1767229200123,"reason":"WORK_ROOT_MISMATCH","evidence":{…}}
 *
 * `since` and `until` are Unix milliseconds; the latest line for a key wins.
 */
import { join } from "node:path";
import { isLowerHex } from "@tops/protocol";
import { JsonLinesFile, type LoadReport } from "./jsonl";

export const QUARANTINE_FILE = "quarantine.jsonl";

/** Which receipt failed and how, kept for the operator. */
export interface QuarantineEvidence {
  readonly epoch_id: number;
  readonly nonce: number;
  readonly device_did: string;
  readonly sizes: { readonly m: number; readonly n: number; readonly k: number; readonly batch: number };
  readonly work_root_hex: string;
  /** The first row whose opening failed, when one did. */
  readonly row?: number;
  /** What that row held according to the worker and according to the reference (WORK_ROOT_MISMATCH). */
  readonly claimed_row_hex?: string;
  readonly computed_row_hex?: string;
  /** Human-readable reason (bad path, audit timeouts, …). */
  readonly detail?: string;
}

export interface QuarantineRecord {
  readonly pubkey_hex: string;
  readonly since: number;
  readonly until: number;
  readonly reason: string;
  readonly evidence: QuarantineEvidence;
}

function untilOfRecord(value: unknown): { pubkey: string; until: number } {
  const v = (typeof value === "object" && value !== null ? value : {}) as Partial<Record<keyof QuarantineRecord, unknown>>;
  if (typeof v.pubkey_hex !== "string" || !isLowerHex(v.pubkey_hex, 33) || typeof v.until !== "number" || !Number.isFinite(v.until)) {
    throw new Error("not a quarantine record (needs pubkey_hex and until)");
  }
  return { pubkey: v.pubkey_hex, until: v.until };
}

export class Quarantine {
  private constructor(
    private readonly file: JsonLinesFile,
    /** pubkey → Unix ms until which it is refused. */
    private readonly until: Map<string, number>,
  ) {}

  static async open(dataDir: string): Promise<{ quarantine: Quarantine; report: LoadReport }> {
    const until = new Map<string, number>();
    const { file, report } = await JsonLinesFile.open(join(dataDir, QUARANTINE_FILE), (value) => {
      const r = untilOfRecord(value);
      until.set(r.pubkey, r.until);
    });
    return { quarantine: new Quarantine(file, until), report };
  }

  /** Unix ms until which the key is refused, or null when it is not (or no longer) quarantined. */
  refusedUntil(pubkeyHex: string, nowMs: number): number | null {
    const until = this.until.get(pubkeyHex);
    if (until === undefined) return null;
    if (until > nowMs) return until;
    this.until.delete(pubkeyHex);
    return null;
  }

  /**
   * Refuses the key from now on (in memory at once, so a concurrent request already sees it),
   * and resolves once the record is on disk.
   */
  add(record: QuarantineRecord): Promise<void> {
    this.until.set(record.pubkey_hex, Math.max(record.until, this.until.get(record.pubkey_hex) ?? 0));
    return this.file.append(JSON.stringify(record));
  }

  /** Non-null once a write failed (later quarantines are kept in memory only). */
  get failed(): Error | null {
    return this.file.failed;
  }

  /** Keys refused at `nowMs`. */
  activeCount(nowMs: number): number {
    let n = 0;
    for (const until of this.until.values()) if (until > nowMs) n++;
    return n;
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
