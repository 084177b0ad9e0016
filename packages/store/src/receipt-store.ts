/**
 * The ReceiptStore on top of either engine: the same SQL for both. Durability and batching are
 * the Backend's job; replay detection is the unique constraints' job (never an in-memory set).
 */
import type { Receipt } from "@tops/protocol";
import type { Backend, Row, Sql } from "./sql";
import { opsParam, toBigInt, toSafeInteger } from "./numbers";
import { checkDeviceQuery, checkInteger, checkKey, MAX_PAGE, parseCursor } from "./query-checks";
import { advanceSeq, alreadyImported, finishImport, insertImportedReceipts, type ImportedReceipt } from "./import-rows";
import {
  type AcceptOptions,
  type AcceptOutcome,
  type ActiveQuarantine,
  type AttemptRecord,
  type DeviceQuery,
  type DeviceSummary,
  type QuarantineEntry,
  type ReceiptPage,
  type ReceiptQuery,
  type ReceiptStore,
  type StoreEngine,
  type StoredReceipt,
} from "./types";

const COUNTER_SHARDS = 256;
/** Shards of device_totals per device (migration 0002). */
const DEVICE_SHARDS = 16;

/**
 * CTEs that add the rows of an `inserted` CTE (RETURNING seq, accepted_at, pubkey_hex,
 * device_did, ops) to the receipt counter and the per-device totals, in the same statement.
 */
export const COUNT_INSERTED = `
counted AS (
  UPDATE receipt_counts SET n = n + (SELECT count(*) FROM inserted)
  WHERE shard = pg_backend_pid() % ${COUNTER_SHARDS} AND EXISTS (SELECT 1 FROM inserted)
), totals AS (
  INSERT INTO device_totals AS t (pubkey_hex, device_did, shard, receipts, ops, first_seen, last_seen)
  SELECT pubkey_hex, device_did, pg_backend_pid() % ${DEVICE_SHARDS}, count(*), sum(ops), min(accepted_at), max(accepted_at)
    FROM inserted GROUP BY pubkey_hex, device_did ORDER BY pubkey_hex, device_did
  ON CONFLICT (pubkey_hex, device_did, shard) DO UPDATE SET
    receipts = t.receipts + EXCLUDED.receipts,
    ops = t.ops + EXCLUDED.ops,
    first_seen = least(t.first_seen, EXCLUDED.first_seen),
    last_seen = greatest(t.last_seen, EXCLUDED.last_seen)
)`;

/** Most receipts in one INSERT statement. */
const MAX_BATCH = 256;
/** The embedded engine's minBatchIntervalMs: at most 100 accept statements a second under load. */
export const EMBEDDED_BATCH_INTERVAL_MS = 10;

/**
 * One statement, so one transaction on Postgres, for every accept waiting at that moment: the
 * function accept_receipts (migration 0003, where its rules are spelt out) inserts the rows
 * under the unique constraints, counts them, and returns the rows it stored; a row that hit a
 * constraint or a quarantine is not among them. The rows travel as one JSON parameter: one SQL
 * text and one cached plan for every batch size, and 2–3× cheaper than nine parameters per row
 * on PGlite. ops is a JSON string (a bigint may not fit a JSON number exactly).
 */
const INSERT_RECEIPTS = "SELECT seq, accepted_at, pubkey_hex, epoch_id, nonce, sig_hex FROM accept_receipts($1::json)";

/** One receipt's row in the JSON parameter of INSERT_RECEIPTS. */
interface ReceiptRow {
  readonly accepted_at: number;
  readonly pubkey_hex: string;
  readonly epoch_id: number;
  readonly nonce: number;
  readonly sig_hex: string;
  readonly device_did: string;
  readonly audited: boolean;
  readonly ops: string;
  readonly receipt_json: string;
}

interface PendingAccept {
  readonly receipt: Receipt;
  readonly row: ReceiptRow;
  readonly resolve: (o: AcceptOutcome) => void;
  readonly reject: (e: unknown) => void;
}

const identity = (pubkey: unknown, epoch: unknown, nonce: unknown, sig: unknown): string =>
  `${String(pubkey)}:${toSafeInteger(epoch, "epoch_id")}:${toSafeInteger(nonce, "nonce")}:${String(sig)}`;

/** Inserts a batch in one statement and tells each receipt what became of it. */
async function acceptBatch(tx: Sql, batch: readonly PendingAccept[]): Promise<AcceptOutcome[]> {
  const rows = await tx.query(INSERT_RECEIPTS, [JSON.stringify(batch.map((p) => p.row))]);
  const stored = new Map<string, { seq: number; acceptedAt: number; claimed: boolean }>();
  for (const row of rows) {
    stored.set(identity(row.pubkey_hex, row.epoch_id, row.nonce, row.sig_hex), {
      seq: toSafeInteger(row.seq, "seq"),
      acceptedAt: toSafeInteger(row.accepted_at, "accepted_at"),
      claimed: false,
    });
  }
  const outcomes: AcceptOutcome[] = [];
  for (const p of batch) {
    const mine = stored.get(identity(p.receipt.pubkey_hex, p.receipt.epoch_id, p.receipt.nonce, p.receipt.sig_hex));
    if (mine && !mine.claimed) {
      mine.claimed = true; // the first copy in the batch is the one stored; later copies are duplicates of it
      outcomes.push({ kind: "stored", seq: mine.seq });
    } else {
      outcomes.push(await classifyConflict(tx, p.receipt, p.row.accepted_at));
    }
  }
  return outcomes;
}

const FIND_ATTEMPT = "SELECT seq, sig_hex, accepted_at FROM receipts WHERE pubkey_hex = $1 AND epoch_id = $2 AND nonce = $3";
const SIGNATURE_SEEN = "SELECT 1 AS seen FROM receipts WHERE sig_hex = $1";
const REFUSED_UNTIL = "SELECT max(until) AS until FROM quarantine WHERE pubkey_hex = $1 AND until > $2";

function attemptOf(row: Row): AttemptRecord {
  return {
    seq: toSafeInteger(row.seq, "seq"),
    sigHex: String(row.sig_hex),
    acceptedAt: toSafeInteger(row.accepted_at, "accepted_at"),
  };
}

function storedReceiptOf(row: Row): StoredReceipt {
  return {
    seq: toSafeInteger(row.seq, "seq"),
    acceptedAt: toSafeInteger(row.accepted_at, "accepted_at"),
    audited: row.audited === true,
    ops: toBigInt(row.ops, "ops"),
    receipt: JSON.parse(String(row.receipt_json)) as Receipt,
  };
}

/** What the one-time JSON-lines import needs from a store (both SqlReceiptStore and the threaded proxy have it). */
export interface ImportTarget {
  importAlreadyDone(name: string): Promise<boolean>;
  importReceipts(rows: readonly ImportedReceipt[]): Promise<number>;
  importAdvanceSeq(): Promise<void>;
  importFinish(name: string, receipts: number, quarantine: readonly QuarantineEntry[]): Promise<void>;
}

export class SqlReceiptStore implements ReceiptStore, ImportTarget {
  /**
   * `minBatchIntervalMs`: under load, start a batch no sooner than this after the previous one,
   * so more accepts share it. A statement's fixed cost (≈0.6 ms of CPU on the embedded engine,
   * counters included) then spreads over more receipts. Only a batch that follows one directly
   * (accepts arrived while it committed) and would be smaller than it waits: a lone or
   * sequential accept is never delayed, nor are clients that keep up with the commits.
   * See the aggregator's benchmark.
   */
  constructor(
    readonly engine: StoreEngine,
    private readonly backend: Backend,
    private readonly minBatchIntervalMs = 0,
  ) {}

  /** The engine underneath (tests, fill scripts); not part of ReceiptStore. */
  get importBackend(): Backend {
    return this.backend;
  }

  // ImportTarget (import.ts): the one-time JSON-lines import.
  importAlreadyDone(name: string): Promise<boolean> {
    return alreadyImported(this.backend, name);
  }

  importReceipts(rows: readonly ImportedReceipt[]): Promise<number> {
    return insertImportedReceipts(this.backend, rows);
  }

  importAdvanceSeq(): Promise<void> {
    return advanceSeq(this.backend);
  }

  importFinish(name: string, receipts: number, quarantine: readonly QuarantineEntry[]): Promise<void> {
    return finishImport(this.backend, name, receipts, quarantine);
  }

  private get sql(): Sql {
    return this.backend.sql;
  }

  private pending: PendingAccept[] = [];
  private flushing: Promise<void> | null = null;

  async accept(receipt: Receipt, wireJson: string, opts: AcceptOptions): Promise<AcceptOutcome> {
    checkInteger(opts.acceptedAt, "acceptedAt", 0, Number.MAX_SAFE_INTEGER);
    const row: ReceiptRow = {
      accepted_at: opts.acceptedAt,
      pubkey_hex: receipt.pubkey_hex,
      epoch_id: receipt.epoch_id,
      nonce: receipt.nonce,
      sig_hex: receipt.sig_hex,
      device_did: receipt.device_did,
      audited: opts.audited,
      ops: opsParam(opts.ops),
      receipt_json: wireJson,
    };
    return new Promise<AcceptOutcome>((resolve, reject) => {
      this.pending.push({ receipt, row, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  /**
   * Accepts that arrive while a batch is being committed wait and go together in the next one
   * (group commit): one statement and one WAL sync for all of them. A batch that fails is
   * retried one receipt at a time, so one bad receipt cannot fail the others.
   */
  private async flush(): Promise<void> {
    let continuing = false;
    let lastBatchStart = 0;
    let lastBatchSize = 0;
    for (;;) {
      // Let every request already received (HTTP, or messages to the database thread) reach
      // accept() before the batch is cut: PGlite's work is synchronous, and without this turn of
      // the event loop each batch would hold only the accept that started it.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.pending.length === 0) break;
      // Accepts arrived while the previous batch was committing, fewer than it held: under load,
      // gather a while longer. As many or more: they keep up by themselves, go now.
      const wait = continuing && this.pending.length < lastBatchSize ? lastBatchStart + this.minBatchIntervalMs - performance.now() : 0;
      if (wait > 0) await new Promise<void>((resolve) => setTimeout(resolve, wait));
      continuing = true;
      lastBatchStart = performance.now();
      const batch = this.pending.splice(0, MAX_BATCH);
      lastBatchSize = batch.length;
      try {
        const outcomes = await this.backend.write((tx) => acceptBatch(tx, batch));
        batch.forEach((p, i) => p.resolve(outcomes[i] as AcceptOutcome));
      } catch (e) {
        if (batch.length === 1) {
          batch[0]?.reject(e);
          continue;
        }
        for (const p of batch) {
          try {
            const [outcome] = await this.backend.write((tx) => acceptBatch(tx, [p]));
            p.resolve(outcome as AcceptOutcome);
          } catch (err) {
            p.reject(err);
          }
        }
      }
    }
    this.flushing = null;
  }

  async findAttempt(pubkeyHex: string, epochId: number, nonce: number): Promise<AttemptRecord | null> {
    const [row] = await this.sql.query(FIND_ATTEMPT, [pubkeyHex, epochId, nonce]);
    return row ? attemptOf(row) : null;
  }

  async signatureSeen(sigHex: string): Promise<boolean> {
    return (await this.sql.query(SIGNATURE_SEEN, [sigHex])).length > 0;
  }

  async addQuarantine(entry: QuarantineEntry): Promise<void> {
    await this.backend.write((tx) =>
      tx.query("INSERT INTO quarantine (pubkey_hex, since, until, reason, evidence) VALUES ($1, $2, $3, $4, $5)", [
        entry.pubkeyHex,
        entry.since,
        entry.until,
        entry.reason,
        JSON.stringify(entry.evidence ?? null),
      ]),
    );
  }

  async refusedUntil(pubkeyHex: string, now: number): Promise<number | null> {
    const [row] = await this.sql.query(REFUSED_UNTIL, [pubkeyHex, now]);
    return row?.until == null ? null : toSafeInteger(row.until, "quarantine.until");
  }

  async activeQuarantines(now: number): Promise<ActiveQuarantine[]> {
    const rows = await this.sql.query("SELECT pubkey_hex, max(until) AS until FROM quarantine WHERE until > $1 GROUP BY pubkey_hex", [now]);
    return rows.map((row) => ({ pubkeyHex: String(row.pubkey_hex), until: toSafeInteger(row.until, "quarantine.until") }));
  }

  async quarantinedKeys(now: number): Promise<number> {
    const [row] = await this.sql.query("SELECT count(DISTINCT pubkey_hex) AS n FROM quarantine WHERE until > $1", [now]);
    return toSafeInteger(row?.n ?? 0, "quarantined keys");
  }

  async epochSecret(create: () => Uint8Array): Promise<Uint8Array> {
    const existing = await this.readSecret();
    if (existing) return existing;
    const secret = create();
    if (secret.length !== 32) throw new RangeError("the epoch secret must be 32 bytes");
    // Whoever inserts first wins; everyone then reads the winner's secret.
    await this.backend.write((tx) =>
      tx.query("INSERT INTO epoch_secret (id, secret, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING", [Buffer.from(secret), Date.now()]),
    );
    const stored = await this.readSecret();
    if (!stored) throw new Error("the epoch secret was inserted but cannot be read back");
    return stored;
  }

  private async readSecret(): Promise<Uint8Array | null> {
    const [row] = await this.sql.query("SELECT secret FROM epoch_secret WHERE id = 1");
    if (!row) return null;
    if (!(row.secret instanceof Uint8Array) || row.secret.length !== 32) throw new Error("epoch_secret.secret is not 32 bytes");
    return new Uint8Array(row.secret);
  }

  async storedReceipts(): Promise<number> {
    const [row] = await this.sql.query("SELECT coalesce(sum(n), 0) AS n FROM receipt_counts");
    return toSafeInteger(row?.n ?? 0, "stored receipts");
  }

  async devices(q: DeviceQuery): Promise<DeviceSummary[]> {
    const limit = checkDeviceQuery(q);
    const params: unknown[] = [q.now, q.now - q.windowMs, limit];
    let where = "";
    if (q.key !== undefined) {
      params.push(q.key);
      where = `WHERE pubkey_hex = $${params.length}`;
    }
    const rows = await this.sql.query(
      `SELECT t.pubkey_hex, t.device_did, t.receipts, t.ops AS verified_ops, t.first_seen, t.last_seen,
              coalesce(w.ops, 0) AS window_ops, q.until AS quarantined_until
         FROM (SELECT pubkey_hex, device_did, sum(receipts) AS receipts, sum(ops) AS ops, min(first_seen) AS first_seen, max(last_seen) AS last_seen
                 FROM device_totals ${where} GROUP BY pubkey_hex, device_did) t
         LEFT JOIN (SELECT pubkey_hex, device_did, sum(ops) AS ops FROM receipts
                     WHERE accepted_at > $2 AND accepted_at <= $1 GROUP BY pubkey_hex, device_did) w
           ON w.pubkey_hex = t.pubkey_hex AND w.device_did = t.device_did
         LEFT JOIN (SELECT pubkey_hex, max(until) AS until FROM quarantine WHERE until > $1 GROUP BY pubkey_hex) q
           ON q.pubkey_hex = t.pubkey_hex
        ORDER BY t.ops DESC, t.pubkey_hex, t.device_did
        LIMIT $3`,
      params,
    );
    const windowSeconds = q.windowMs / 1000;
    return rows.map((row) => ({
      pubkeyHex: String(row.pubkey_hex),
      deviceDid: String(row.device_did),
      receipts: toSafeInteger(row.receipts, "receipts"),
      verifiedOps: toBigInt(row.verified_ops, "verified_ops"),
      firstSeen: toSafeInteger(row.first_seen, "first_seen"),
      lastSeen: toSafeInteger(row.last_seen, "last_seen"),
      quarantinedUntil: row.quarantined_until == null ? null : toSafeInteger(row.quarantined_until, "quarantined_until"),
      opsPerSecond: Number(toBigInt(row.window_ops, "window_ops")) / windowSeconds,
    }));
  }

  async receipts(q: ReceiptQuery): Promise<ReceiptPage> {
    checkInteger(q.limit, "limit", 1, MAX_PAGE);
    const conditions: string[] = [];
    const params: unknown[] = [];
    if (q.key !== undefined) {
      checkKey(q.key);
      params.push(q.key);
      conditions.push(`pubkey_hex = $${params.length}`);
    }
    if (q.since !== undefined) {
      checkInteger(q.since, "since", 0, Number.MAX_SAFE_INTEGER);
      params.push(q.since);
      conditions.push(`accepted_at >= $${params.length}`);
    }
    if (q.cursor !== undefined) {
      params.push(parseCursor(q.cursor));
      conditions.push(`seq > $${params.length}`);
    }
    params.push(q.limit + 1);
    const rows = await this.sql.query(
      `SELECT seq, accepted_at, audited, ops, receipt_json FROM receipts
        ${conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : ""}
        ORDER BY seq LIMIT $${params.length}`,
      params,
    );
    const items = rows.slice(0, q.limit).map(storedReceiptOf);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > q.limit && last ? String(last.seq) : null };
  }

  async close(): Promise<void> {
    await this.flushing;
    await this.backend.close();
  }
}

/** Why the insert did nothing: the same receipt (idempotent), a replay of its attempt or signature, or a quarantined key. */
async function classifyConflict(tx: Sql, receipt: Receipt, acceptedAt: number): Promise<AcceptOutcome> {
  const [attemptRow] = await tx.query(FIND_ATTEMPT, [receipt.pubkey_hex, receipt.epoch_id, receipt.nonce]);
  if (attemptRow) {
    const attempt = attemptOf(attemptRow);
    return attempt.sigHex === receipt.sig_hex
      ? { kind: "duplicate", seq: attempt.seq, acceptedAt: attempt.acceptedAt }
      : { kind: "replay", rule: "attempt" };
  }
  if ((await tx.query(SIGNATURE_SEEN, [receipt.sig_hex])).length > 0) return { kind: "replay", rule: "signature" };
  const [quarantined] = await tx.query(REFUSED_UNTIL, [receipt.pubkey_hex, acceptedAt]);
  if (quarantined?.until != null) return { kind: "quarantined", until: toSafeInteger(quarantined.until, "quarantine.until") };
  // Rows are never deleted, so a conflict always leaves its row behind.
  throw new Error("the receipt conflicted with a row that no longer exists");
}
