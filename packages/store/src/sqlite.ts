/**
 * The embedded engine on SQLite (better-sqlite3): the receipts database in
 * `${dataDir}/receipts.sqlite`, schema in ../migrations-sqlite.
 *
 * Why SQLite and not only PGlite (one SQL dialect with PostgreSQL, kept as EMBEDDED_ENGINE=pglite):
 * under load PGlite spent ≈0.25 ms of CPU per accepted receipt (PostgreSQL's executor in WASM
 * and its JavaScript glue), which on a 2-core host comes straight off the event loop that
 * checks signatures: 0.82× the JSON-lines ledger's receipts per second, where this engine is
 * at par (aggregator benchmark). The price is a second dialect of the same schema, kept to
 * the statements in this file.
 *
 * Durability: WAL journal with synchronous=FULL, so a commit returns once its WAL frames are
 * fsynced; nobody is answered before that. better-sqlite3 is synchronous: accepts queued in
 * one turn of the event loop are committed together in one transaction (group commit), and
 * on the database thread (threaded.ts) that blocking never touches the HTTP event loop.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import type { Receipt } from "@tops/protocol";
import { DirLock } from "./dir-lock";
import type { ImportedReceipt } from "./import-rows";
import { loadMigrations, pendingMigrations } from "./migrate";
import { opsParam, toBigInt, toSafeInteger } from "./numbers";
import { checkDeviceQuery, checkInteger, checkKey, MAX_PAGE, parseCursor } from "./query-checks";
import type { ImportTarget } from "./receipt-store";
import { errorClassOf } from "./sql";
import type {
  AcceptOptions,
  AcceptOutcome,
  ActiveQuarantine,
  AttemptRecord,
  DeviceQuery,
  DeviceSummary,
  QuarantineEntry,
  ReceiptPage,
  ReceiptQuery,
  ReceiptStore,
  StoredReceipt,
  StoreLog,
  StoreObserver,
} from "./types";

export const SQLITE_FILE = "receipts.sqlite";
export const SQLITE_MIGRATIONS_DIR = fileURLToPath(new URL("../migrations-sqlite/", import.meta.url));

/** Most accepts in one transaction. */
const MAX_BATCH = 512;
/** device_totals.ops: decimal digits, zero-padded (migration 0001). */
const OPS_DIGITS = 39;
const padOps = (ops: bigint): string => {
  const text = ops.toString();
  if (text.length > OPS_DIGITS) throw new RangeError(`device ops ${text} exceed ${OPS_DIGITS} digits`);
  return text.padStart(OPS_DIGITS, "0");
};

type Row = Record<string, unknown>;
type Statement = Database.Statement<unknown[], Row>;
/** Named parameters (@name) of a statement. */
type NamedParams = Record<string, number | string>;

interface PendingAccept {
  readonly receipt: Receipt;
  readonly wireJson: string;
  readonly opts: AcceptOptions;
  readonly resolve: (o: AcceptOutcome) => void;
  readonly reject: (e: unknown) => void;
}

interface DeviceDelta {
  readonly pubkeyHex: string;
  readonly deviceDid: string;
  receipts: number;
  ops: bigint;
  first: number;
  last: number;
}

/** Counts one stored receipt into its device's change of this transaction. */
function addToDelta(devices: Map<string, DeviceDelta>, pubkeyHex: string, deviceDid: string, ops: bigint, at: number): void {
  const id = `${pubkeyHex}\u0000${deviceDid}`;
  const d = devices.get(id) ?? { pubkeyHex, deviceDid, receipts: 0, ops: 0n, first: at, last: at };
  d.receipts++;
  d.ops += ops;
  d.first = Math.min(d.first, at);
  d.last = Math.max(d.last, at);
  devices.set(id, d);
}

/** Applies the missing migrations of migrations-sqlite, each in one transaction with its schema_migrations row. */
function migrateSqlite(db: Database.Database): number[] {
  db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT");
  const migrations = loadMigrations(SQLITE_MIGRATIONS_DIR);
  const applied = (db.prepare("SELECT version FROM schema_migrations").all() as { version: number }[]).map((r) => r.version);
  const done: number[] = [];
  for (const m of pendingMigrations(migrations, applied)) {
    try {
      db.transaction(() => {
        db.exec(m.sql);
        db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(m.version, m.name, Date.now());
      }).immediate();
    } catch (e) {
      throw new Error(`migration ${m.version}_${m.name} failed: ${(e as Error).message}`, { cause: e });
    }
    done.push(m.version);
  }
  return done;
}

export class SqliteReceiptStore implements ReceiptStore, ImportTarget {
  readonly engine = "embedded" as const;
  private pending: PendingAccept[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly s: Record<
    | "insert" | "findAttempt" | "signatureSeen" | "refusedUntil" | "count" | "deviceTotal" | "putDeviceTotal" | "addQuarantine"
    | "activeQuarantines" | "quarantinedKeys" | "readSecret" | "insertSecret" | "storedReceipts" | "importDone" | "importInsert"
    | "importHeld" | "importMarker",
    Statement
  >;

  private constructor(
    private readonly db: Database.Database,
    private readonly lock: DirLock,
    private readonly observer: StoreObserver | undefined,
  ) {
    const p = (sql: string): Statement => db.prepare(sql);
    this.s = {
      insert: p(`INSERT INTO receipts (accepted_at, pubkey_hex, epoch_id, nonce, sig_hex, device_did, audited, ops, receipt_json)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING seq`),
      findAttempt: p("SELECT seq, sig_hex, accepted_at FROM receipts WHERE pubkey_hex = ? AND epoch_id = ? AND nonce = ?"),
      signatureSeen: p("SELECT 1 AS seen FROM receipts WHERE sig_hex = ?"),
      refusedUntil: p("SELECT max(until) AS until FROM quarantine WHERE pubkey_hex = ? AND until > ?"),
      count: p("UPDATE receipt_counts SET n = n + ? WHERE id = 1"),
      deviceTotal: p("SELECT receipts, ops, first_seen, last_seen FROM device_totals WHERE pubkey_hex = ? AND device_did = ?"),
      putDeviceTotal: p(`INSERT INTO device_totals (pubkey_hex, device_did, receipts, ops, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
                         ON CONFLICT (pubkey_hex, device_did) DO UPDATE SET receipts = excluded.receipts, ops = excluded.ops,
                           first_seen = excluded.first_seen, last_seen = excluded.last_seen`),
      addQuarantine: p("INSERT INTO quarantine (pubkey_hex, since, until, reason, evidence) VALUES (?, ?, ?, ?, ?)"),
      activeQuarantines: p("SELECT pubkey_hex, max(until) AS until FROM quarantine WHERE until > ? GROUP BY pubkey_hex"),
      quarantinedKeys: p("SELECT count(DISTINCT pubkey_hex) AS n FROM quarantine WHERE until > ?"),
      readSecret: p("SELECT secret FROM epoch_secret WHERE id = 1"),
      insertSecret: p("INSERT INTO epoch_secret (id, secret, created_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING"),
      storedReceipts: p("SELECT n FROM receipt_counts WHERE id = 1"),
      importDone: p("SELECT 1 AS done FROM imports WHERE name = ?"),
      importInsert: p(`INSERT INTO receipts (seq, accepted_at, pubkey_hex, epoch_id, nonce, sig_hex, device_did, audited, ops, receipt_json)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING seq`),
      importHeld: p("SELECT seq, sig_hex FROM receipts WHERE pubkey_hex = ? AND epoch_id = ? AND nonce = ?"),
      importMarker: p("INSERT INTO imports (name, receipts, quarantine, imported_at) VALUES (?, ?, ?, ?)"),
    };
    // ops columns hold values up to 2^63 - 1: read them as bigint, not as a lossy number.
    this.s.deviceTotal.safeIntegers(true);
  }

  static async open(dataDir: string, observer?: StoreObserver, log?: StoreLog): Promise<SqliteReceiptStore> {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const lock = DirLock.acquire(join(dataDir, "db.lock"));
    try {
      const path = join(dataDir, SQLITE_FILE);
      const started = performance.now();
      const db = new Database(path);
      try {
        db.pragma("journal_mode = WAL");
        db.pragma("synchronous = FULL"); // WAL + FULL: every commit fsyncs the WAL before it returns
        db.pragma("foreign_keys = OFF");
        db.pragma("cache_size = -32768"); // 32 MiB of pages, whatever the database's size
        const applied = migrateSqlite(db);
        log?.("store_open", { engine: "embedded", embedded_engine: "sqlite", file: path, ms: Math.round(performance.now() - started), migrations_applied: applied });
        return new SqliteReceiptStore(db, lock, observer);
      } catch (e) {
        db.close();
        throw e;
      }
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  /** The connection underneath (test fill scripts); not part of ReceiptStore. */
  get database(): Database.Database {
    return this.db;
  }

  /** Runs `work`, reporting a failure's class to the observer before rethrowing it. */
  private run<T>(work: () => T): T {
    if (this.closed) throw new Error("the store is closed");
    try {
      return work();
    } catch (e) {
      this.observer?.error(errorClassOf(e));
      throw e;
    }
  }

  /** A write in its own transaction (and fsync), timed for the commit-latency histogram. */
  private commit<T>(work: () => T): T {
    const started = performance.now();
    const result = this.run(() => this.db.transaction(work).immediate());
    this.observer?.commit(performance.now() - started);
    return result;
  }

  accept(receipt: Receipt, wireJson: string, opts: AcceptOptions): Promise<AcceptOutcome> {
    try {
      checkInteger(opts.acceptedAt, "acceptedAt", 0, Number.MAX_SAFE_INTEGER);
      opsParam(opts.ops); // range check now, not inside the batch
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.closed) return Promise.reject(new Error("the store is closed"));
    return new Promise<AcceptOutcome>((resolve, reject) => {
      this.pending.push({ receipt, wireJson, opts, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // Every accept already received (HTTP requests, messages to the database thread)
        // reaches this queue before the batch is cut.
        setImmediate(() => this.flush());
      }
    });
  }

  /** Group commit: what is queued goes in one transaction; if it fails, each accept is retried on its own. */
  private flush(): void {
    this.flushScheduled = false;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_BATCH);
      try {
        const outcomes = this.commit(() => this.acceptBatch(batch));
        batch.forEach((p, i) => p.resolve(outcomes[i] as AcceptOutcome));
      } catch (e) {
        if (batch.length === 1) {
          batch[0]?.reject(e);
          continue;
        }
        for (const p of batch) {
          try {
            const [outcome] = this.commit(() => this.acceptBatch([p]));
            p.resolve(outcome as AcceptOutcome);
          } catch (err) {
            p.reject(err);
          }
        }
      }
    }
  }

  /** Inside a transaction: inserts each receipt under the constraints, counts them, updates the device totals. */
  private acceptBatch(batch: readonly PendingAccept[]): AcceptOutcome[] {
    const outcomes: AcceptOutcome[] = [];
    const devices = new Map<string, DeviceDelta>();
    let stored = 0;
    for (const { receipt: r, wireJson, opts } of batch) {
      const at = opts.acceptedAt;
      // A key quarantined at the acceptance time inserts nothing; the conflict rules below still
      // answer a receipt stored before as a duplicate.
      const refused = this.s.refusedUntil.get(r.pubkey_hex, at)?.until;
      const row = refused == null
        ? this.s.insert.get(at, r.pubkey_hex, r.epoch_id, r.nonce, r.sig_hex, r.device_did, opts.audited ? 1 : 0, BigInt(opts.ops), wireJson)
        : undefined;
      if (!row) {
        outcomes.push(this.classifyConflict(r, at));
        continue;
      }
      stored++;
      outcomes.push({ kind: "stored", seq: toSafeInteger(row.seq, "seq") });
      addToDelta(devices, r.pubkey_hex, r.device_did, BigInt(opts.ops), at);
    }
    if (stored > 0) this.s.count.run(stored);
    for (const d of devices.values()) this.addToDevice(d);
    return outcomes;
  }

  private addToDevice(d: DeviceDelta): void {
    const old = this.s.deviceTotal.get(d.pubkeyHex, d.deviceDid);
    const receipts = d.receipts + (old ? toSafeInteger(old.receipts, "device_totals.receipts") : 0);
    const ops = d.ops + (old ? toBigInt(String(old.ops), "device_totals.ops") : 0n);
    const first = old ? Math.min(d.first, toSafeInteger(old.first_seen, "first_seen")) : d.first;
    const last = old ? Math.max(d.last, toSafeInteger(old.last_seen, "last_seen")) : d.last;
    this.s.putDeviceTotal.run(d.pubkeyHex, d.deviceDid, receipts, padOps(ops), first, last);
  }

  /** Why the insert did nothing: the same receipt (idempotent), a replay of its attempt or signature, or a quarantined key. */
  private classifyConflict(r: Receipt, acceptedAt: number): AcceptOutcome {
    const attempt = this.attempt(r.pubkey_hex, r.epoch_id, r.nonce);
    if (attempt) {
      return attempt.sigHex === r.sig_hex ? { kind: "duplicate", seq: attempt.seq, acceptedAt: attempt.acceptedAt } : { kind: "replay", rule: "attempt" };
    }
    if (this.s.signatureSeen.get(r.sig_hex)) return { kind: "replay", rule: "signature" };
    const until = this.s.refusedUntil.get(r.pubkey_hex, acceptedAt)?.until;
    if (until != null) return { kind: "quarantined", until: toSafeInteger(until, "quarantine.until") };
    // Rows are never deleted, so a conflict always leaves its row behind.
    throw new Error("the receipt conflicted with a row that no longer exists");
  }

  private attempt(pubkeyHex: string, epochId: number, nonce: number): AttemptRecord | null {
    const row = this.s.findAttempt.get(pubkeyHex, epochId, nonce);
    return row ? { seq: toSafeInteger(row.seq, "seq"), sigHex: String(row.sig_hex), acceptedAt: toSafeInteger(row.accepted_at, "accepted_at") } : null;
  }

  /** A read, answered as a promise like every ReceiptStore call (errors included). */
  private read<T>(work: () => T): Promise<T> {
    try {
      return Promise.resolve(this.run(work));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  findAttempt(pubkeyHex: string, epochId: number, nonce: number): Promise<AttemptRecord | null> {
    return this.read(() => this.attempt(pubkeyHex, epochId, nonce));
  }

  signatureSeen(sigHex: string): Promise<boolean> {
    return this.read(() => this.s.signatureSeen.get(sigHex) !== undefined);
  }

  addQuarantine(entry: QuarantineEntry): Promise<void> {
    return this.read(() => {
      this.commit(() => this.s.addQuarantine.run(entry.pubkeyHex, entry.since, entry.until, entry.reason, JSON.stringify(entry.evidence ?? null)));
    });
  }

  refusedUntil(pubkeyHex: string, now: number): Promise<number | null> {
    return this.read(() => {
      const until = this.s.refusedUntil.get(pubkeyHex, now)?.until;
      return until == null ? null : toSafeInteger(until, "quarantine.until");
    });
  }

  activeQuarantines(now: number): Promise<ActiveQuarantine[]> {
    return this.read(() => this.s.activeQuarantines.all(now).map((row) => ({ pubkeyHex: String(row.pubkey_hex), until: toSafeInteger(row.until, "quarantine.until") })));
  }

  quarantinedKeys(now: number): Promise<number> {
    return this.read(() => toSafeInteger(this.s.quarantinedKeys.get(now)?.n ?? 0, "quarantined keys"));
  }

  epochSecret(create: () => Uint8Array): Promise<Uint8Array> {
    return this.read(() => {
      const existing = this.readSecret();
      if (existing) return existing;
      const secret = create();
      if (secret.length !== 32) throw new RangeError("the epoch secret must be 32 bytes");
      this.commit(() => this.s.insertSecret.run(Buffer.from(secret), Date.now()));
      const stored = this.readSecret();
      if (!stored) throw new Error("the epoch secret was inserted but cannot be read back");
      return stored;
    });
  }

  private readSecret(): Uint8Array | null {
    const row = this.s.readSecret.get();
    if (!row) return null;
    if (!(row.secret instanceof Uint8Array) || row.secret.length !== 32) throw new Error("epoch_secret.secret is not 32 bytes");
    return new Uint8Array(row.secret);
  }

  storedReceipts(): Promise<number> {
    return this.read(() => toSafeInteger(this.s.storedReceipts.get()?.n ?? 0, "stored receipts"));
  }

  devices(q: DeviceQuery): Promise<DeviceSummary[]> {
    return this.read(() => {
      const limit = checkDeviceQuery(q);
      const rows = this.db
        .prepare<NamedParams, Row>(
          `SELECT t.pubkey_hex, t.device_did, t.receipts, t.ops AS verified_ops, t.first_seen, t.last_seen,
                  coalesce(w.ops, 0) AS window_ops, q.until AS quarantined_until
             FROM device_totals t
             LEFT JOIN (SELECT pubkey_hex, device_did, total(ops) AS ops FROM receipts
                         WHERE accepted_at > @from AND accepted_at <= @now GROUP BY pubkey_hex, device_did) w
               ON w.pubkey_hex = t.pubkey_hex AND w.device_did = t.device_did
             LEFT JOIN (SELECT pubkey_hex, max(until) AS until FROM quarantine WHERE until > @now GROUP BY pubkey_hex) q
               ON q.pubkey_hex = t.pubkey_hex
            ${q.key !== undefined ? "WHERE t.pubkey_hex = @key" : ""}
            ORDER BY t.ops DESC, t.pubkey_hex, t.device_did
            LIMIT @limit`,
        )
        .all({ now: q.now, from: q.now - q.windowMs, limit, ...(q.key !== undefined ? { key: q.key } : {}) });
      const windowSeconds = q.windowMs / 1000;
      return rows.map((row) => ({
        pubkeyHex: String(row.pubkey_hex),
        deviceDid: String(row.device_did),
        receipts: toSafeInteger(row.receipts, "receipts"),
        verifiedOps: BigInt(String(row.verified_ops)),
        firstSeen: toSafeInteger(row.first_seen, "first_seen"),
        lastSeen: toSafeInteger(row.last_seen, "last_seen"),
        quarantinedUntil: row.quarantined_until == null ? null : toSafeInteger(row.quarantined_until, "quarantined_until"),
        // total() adds in floating point (never overflows): ops/s is a rate, not a ledger figure.
        opsPerSecond: Number(row.window_ops) / windowSeconds,
      }));
    });
  }

  receipts(q: ReceiptQuery): Promise<ReceiptPage> {
    return this.read(() => {
      checkInteger(q.limit, "limit", 1, MAX_PAGE);
      const conditions: string[] = [];
      const params: Record<string, number | string> = { limit: q.limit + 1 };
      if (q.key !== undefined) {
        checkKey(q.key);
        params.key = q.key;
        conditions.push("pubkey_hex = @key");
      }
      if (q.since !== undefined) {
        checkInteger(q.since, "since", 0, Number.MAX_SAFE_INTEGER);
        params.since = q.since;
        conditions.push("accepted_at >= @since");
      }
      if (q.cursor !== undefined) {
        params.after = parseCursor(q.cursor);
        conditions.push("seq > @after");
      }
      const statement = this.db.prepare<NamedParams, Row>(
        `SELECT seq, accepted_at, audited, ops, receipt_json FROM receipts
          ${conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : ""}
          ORDER BY seq LIMIT @limit`,
      );
      statement.safeIntegers(true);
      const rows = statement.all(params);
      const items = rows.slice(0, q.limit).map(
        (row): StoredReceipt => ({
          seq: toSafeInteger(row.seq, "seq"),
          acceptedAt: toSafeInteger(row.accepted_at, "accepted_at"),
          audited: row.audited === 1n,
          ops: toBigInt(row.ops, "ops"),
          receipt: JSON.parse(String(row.receipt_json)) as Receipt,
        }),
      );
      const last = items.at(-1);
      return { items, nextCursor: rows.length > q.limit && last ? String(last.seq) : null };
    });
  }

  // ImportTarget (import.ts): the one-time JSON-lines import.
  importAlreadyDone(name: string): Promise<boolean> {
    return this.read(() => this.s.importDone.get(name) !== undefined);
  }

  /** Inserts the rows with their original seq; a row already there must be the same receipt at the same seq. */
  importReceipts(rows: readonly ImportedReceipt[]): Promise<number> {
    return this.read(() =>
      this.commit(() => {
        const devices = new Map<string, DeviceDelta>();
        let inserted = 0;
        for (const r of rows) {
          const ops = BigInt(opsParam(r.ops));
          const row = this.s.importInsert.get(r.seq, r.acceptedAt, r.pubkeyHex, r.epochId, r.nonce, r.sigHex, r.deviceDid, r.audited ? 1 : 0, ops, r.receiptJson);
          if (!row) {
            const held = this.s.importHeld.get(r.pubkeyHex, r.epochId, r.nonce);
            if (!held || toSafeInteger(held.seq, "seq") !== r.seq || held.sig_hex !== r.sigHex) {
              throw new Error(`line ${r.lineNumber} (seq ${r.seq}) conflicts with a receipt already in the database${held ? ` (seq ${String(held.seq)})` : ""}`);
            }
            continue;
          }
          inserted++;
          addToDelta(devices, r.pubkeyHex, r.deviceDid, ops, r.acceptedAt);
        }
        if (inserted > 0) this.s.count.run(inserted);
        for (const d of devices.values()) this.addToDevice(d);
        return inserted;
      }),
    );
  }

  /** New accepts continue after the highest seq by themselves (seq is the rowid). */
  importAdvanceSeq(): Promise<void> {
    return Promise.resolve();
  }

  importFinish(name: string, receipts: number, quarantine: readonly QuarantineEntry[]): Promise<void> {
    return this.read(() => {
      this.commit(() => {
        this.s.importMarker.run(name, receipts, quarantine.length, Date.now());
        for (const q of quarantine) this.s.addQuarantine.run(q.pubkeyHex, q.since, q.until, q.reason, JSON.stringify(q.evidence ?? null));
      });
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.flush(); // accepts still queued are committed (and answered) first
    this.closed = true;
    try {
      this.db.close(); // the last connection: checkpoints the WAL into the database file
    } finally {
      this.lock.release();
    }
    return Promise.resolve();
  }
}
