import type { Receipt } from "@tops/protocol";

/** One accepted receipt as stored. `ops` is a bigint: the column is BIGINT and sums exceed 2^53. */
export interface StoredReceipt {
  readonly seq: number;
  /** Unix ms, the aggregator's clock when it accepted the receipt. */
  readonly acceptedAt: number;
  readonly audited: boolean;
  readonly ops: bigint;
  readonly receipt: Receipt;
}

export type ReplayRule = "attempt" | "signature";

export type AcceptOutcome =
  /** Inserted and committed (durable) before the promise resolved. */
  | { readonly kind: "stored"; readonly seq: number }
  /** This exact receipt (same attempt and same sig_hex) is already stored: answer idempotently. */
  | { readonly kind: "duplicate"; readonly seq: number; readonly acceptedAt: number }
  /** Another receipt holds the attempt (pubkey, epoch_id, nonce), or this sig_hex under another attempt. */
  | { readonly kind: "replay"; readonly rule: ReplayRule }
  /** Not stored: the key is quarantined (by any process sharing the database) until this Unix ms. */
  | { readonly kind: "quarantined"; readonly until: number };

export interface AcceptOptions {
  readonly audited: boolean;
  readonly acceptedAt: number;
  /** Verified int8 ops credited for the receipt: a non-negative safe integer or a bigint < 2^63. */
  readonly ops: number | bigint;
}

export interface QuarantineEntry {
  readonly pubkeyHex: string;
  readonly since: number;
  readonly until: number;
  readonly reason: string;
  readonly evidence: unknown;
}

export interface ActiveQuarantine {
  readonly pubkeyHex: string;
  /** Unix ms until which the key is refused (the latest of its records). */
  readonly until: number;
}

export interface AttemptRecord {
  readonly seq: number;
  readonly sigHex: string;
  readonly acceptedAt: number;
}

export interface DeviceQuery {
  readonly now: number;
  /** Window for opsPerSecond, ending at `now` (acceptance times). 1 ms .. 366 days. */
  readonly windowMs: number;
  /** Only this public key's devices. */
  readonly key?: string;
  /** At most this many devices (1..MAX_DEVICES, default MAX_DEVICES), most ops first. */
  readonly limit?: number;
}

export interface DeviceSummary {
  readonly pubkeyHex: string;
  readonly deviceDid: string;
  readonly receipts: number;
  readonly verifiedOps: bigint;
  /** Acceptance times (Unix ms) of the first and last receipt. */
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** Unix ms until which the key is quarantined, or null. */
  readonly quarantinedUntil: number | null;
  /** Verified ops accepted within (now − windowMs, now], per second of the window. */
  readonly opsPerSecond: number;
}

export interface ReceiptQuery {
  readonly key?: string;
  /** Only receipts accepted at or after this Unix ms. */
  readonly since?: number;
  /** nextCursor of the previous page. */
  readonly cursor?: string;
  /** 1..MAX_PAGE */
  readonly limit: number;
}

export interface ReceiptPage {
  readonly items: StoredReceipt[];
  /** Pass as `cursor` for the next page; null when this page is the last. */
  readonly nextCursor: string | null;
}

export type StoreEngine = "embedded" | "postgres";
/** Which embedded database (OpenStoreOptions.embeddedEngine). */
export type EmbeddedEngine = "sqlite" | "pglite";

export interface ReceiptStore {
  readonly engine: StoreEngine;
  /** Stores the receipt in one transaction under the unique constraints; resolves after the commit is durable. */
  accept(receipt: Receipt, wireJson: string, opts: AcceptOptions): Promise<AcceptOutcome>;
  findAttempt(pubkeyHex: string, epochId: number, nonce: number): Promise<AttemptRecord | null>;
  signatureSeen(sigHex: string): Promise<boolean>;
  addQuarantine(entry: QuarantineEntry): Promise<void>;
  /** Unix ms until which the key is refused, or null. */
  refusedUntil(pubkeyHex: string, now: number): Promise<number | null>;
  /** Every key refused at `now`, with its deadline: what an aggregator caches between refreshes. */
  activeQuarantines(now: number): Promise<ActiveQuarantine[]>;
  quarantinedKeys(now: number): Promise<number>;
  /** The epoch secret, created with `create` by whichever process asks first (atomic across processes). */
  epochSecret(create: () => Uint8Array): Promise<Uint8Array>;
  /** Exact number of stored receipts, without scanning them. */
  storedReceipts(): Promise<number>;
  devices(q: DeviceQuery): Promise<DeviceSummary[]>;
  receipts(q: ReceiptQuery): Promise<ReceiptPage>;
  close(): Promise<void>;
}

/** Hooks for metrics: commit latency (ms) of each write transaction, database errors by class. */
export interface StoreObserver {
  commit(ms: number): void;
  error(errorClass: string): void;
}

export type StoreLog = (event: string, fields: Record<string, unknown>) => void;

export interface OpenStoreOptions {
  /** Embedded engine: the database lives in `${dataDir}/db`. Also where importJsonl looks. */
  readonly dataDir: string;
  /** postgres://… : use this PostgreSQL server instead of the embedded engine. */
  readonly databaseUrl?: string;
  readonly observer?: StoreObserver;
  readonly log?: StoreLog;
  /**
   * Embedded engine: SQLite (default; `${dataDir}/receipts.sqlite`) or PGlite (PostgreSQL in
   * WASM, `${dataDir}/db`: the same SQL as the PostgreSQL engine, ≈4× the CPU per receipt).
   * Unset: PGlite where `${dataDir}` already holds a PGlite database and no SQLite one (so an
   * existing database is never left behind), else SQLite.
   */
  readonly embeddedEngine?: EmbeddedEngine;
  /**
   * Embedded engine: run the database on a worker thread, so its synchronous work (statements,
   * fsync) neither blocks the caller's event loop nor shares its core. Default false: on the
   * caller's thread.
   */
  readonly embeddedThread?: boolean;
  /** Postgres connection pool size (default 16). */
  readonly poolSize?: number;
}

/** A bad query parameter (cursor, limit, window…): the HTTP layer answers 400. */
export class StoreQueryError extends RangeError {
  override readonly name = "StoreQueryError";
  constructor(readonly parameter: string, message: string) {
    super(message);
  }
}
