/**
 * The embedded engine: PGlite (PostgreSQL compiled to WASM) in this process, its files under
 * `${dataDir}/db`, made durable (durable-nodefs.ts).
 *
 * PGlite has one connection and syncs the WAL at each commit (≈1–2 ms here), so one transaction
 * per receipt would cap throughput at a few hundred per second. Writes that arrive while a
 * commit is in progress are therefore grouped into the next transaction (group commit, as the
 * JSON-lines ledger did): every receipt is still inserted under the constraints inside exactly
 * one committed transaction, and nobody is answered before that commit is on disk.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parse, PGlite, protocol, type Results } from "@electric-sql/pglite";
import { DirLock } from "./dir-lock";
import { DurableNodeFS, durableStartParams } from "./durable-nodefs";
import { migrate } from "./migrate";
import { errorClassOf, observed, type Backend, type Row, type Sql } from "./sql";
import type { StoreLog, StoreObserver } from "./types";
import { bindDescribeExecuteSync, type WireValue } from "./wire";

/** Most writes in one group-commit transaction. */
const MAX_GROUP = 512;
/**
 * Most statement texts kept prepared on the connection. The store's texts are a few dozen
 * (some built per call: query filters, import batch sizes); any beyond are parsed per call.
 */
const MAX_PREPARED = 256;

/** A statement prepared on PGlite's connection: its name and the types of its parameters. */
interface Prepared {
  readonly name: string;
  readonly paramTypes: readonly number[];
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

interface PendingWrite {
  readonly work: (tx: Sql) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (e: unknown) => void;
}

export class EmbeddedBackend implements Backend {
  readonly sql: Sql;
  /** Statements for a caller that holds PGlite's lock (inside commit). */
  private readonly lockedSql: Sql = { query: async (text, params) => (await this.execute(text, params)).rows as Row[] };
  private readonly prepared = new Map<string, Prepared>();
  private queue: PendingWrite[] = [];
  private draining: Promise<void> | null = null;
  private closed = false;

  private constructor(
    private readonly db: PGlite,
    private readonly fs: DurableNodeFS,
    private readonly lock: DirLock,
    private readonly observer: StoreObserver | undefined,
  ) {
    const sql: Sql = {
      query: async (text, params) => {
        const result = await db.runExclusive(() => this.execute(text, params));
        await db.syncToFs();
        return result.rows as Row[];
      },
    };
    this.sql = observer ? observed(sql, (c) => observer.error(c)) : sql;
  }

  /**
   * One statement over PGlite's wire protocol, the caller holding PGlite's lock (runExclusive:
   * nothing else runs on the connection meanwhile). PGlite's own query() sends six messages,
   * each a separate call into Postgres, and parses the statement again every time; here a
   * statement is parsed once (named, so Postgres keeps its plan) and each call is one round
   * trip: Bind, Describe, Execute, Sync (wire.ts). Parameters and results are converted by
   * PGlite's own serializers and parsers, as query() does. On the accept statement that is
   * ≈0.65× the CPU of query() (store bench, statement section).
   */
  private async execute(text: string, params: readonly unknown[] = []): Promise<Results> {
    const { serialize } = protocol;
    let statement = this.prepared.get(text);
    if (!statement) {
      // Beyond MAX_PREPARED: the unnamed statement, replaced by the next one parsed.
      const name = this.prepared.size < MAX_PREPARED ? `tops_${this.prepared.size + 1}` : "";
      const { messages } = await this.db.execProtocol(concat([serialize.parse({ name, text }), serialize.describe({ type: "S", name }), serialize.sync()]), {
        syncToFs: false,
      });
      const described = messages.find(
        (m): m is InstanceType<typeof protocol.messages.ParameterDescriptionMessage> => m.name === "parameterDescription",
      );
      statement = { name, paramTypes: described?.dataTypeIDs ?? [] };
      if (name) this.prepared.set(text, statement);
    }
    const types = statement.paramTypes;
    const values = params.map((v, i): WireValue => {
      if (v == null) return null;
      const serializer = this.db.serializers[types[i] ?? 0];
      return serializer ? serializer(v) : String(v);
    });
    const { messages } = await this.db.execProtocol(bindDescribeExecuteSync(statement.name, values), { syncToFs: false });
    return parse.parseResults(messages, this.db.parsers)[0] ?? { rows: [], fields: [] };
  }

  static async open(dataDir: string, observer?: StoreObserver, log?: StoreLog): Promise<EmbeddedBackend> {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const lock = DirLock.acquire(join(dataDir, "db.lock"));
    try {
      const dbDir = join(dataDir, "db");
      const fs = new DurableNodeFS(dbDir);
      const started = performance.now();
      const db = await PGlite.create({ fs, startParams: durableStartParams() });
      const applied = await migrate({
        query: async (text, params) => (await db.query<Row>(text, params ? [...params] : undefined)).rows,
        exec: async (text) => {
          await db.exec(text);
        },
      });
      log?.("store_open", { engine: "embedded", dir: dbDir, ms: Math.round(performance.now() - started), migrations_applied: applied });
      return new EmbeddedBackend(db, fs, lock, observer);
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  /**
   * The PGlite instance underneath, for the benchmark that compares its query() with this
   * backend's statements. Not for use beside the backend: its statements would bypass the lock.
   */
  get pglite(): PGlite {
    return this.db;
  }

  /** fsync calls Postgres made so far (for tests: a commit must sync). */
  get syncs(): number {
    return this.fs.syncs;
  }

  write<T>(work: (tx: Sql) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error("the store is closed"));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
      this.draining ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue.splice(0, MAX_GROUP);
      try {
        const results = await this.commit(group);
        group.forEach((w, i) => w.resolve(results[i]));
      } catch (e) {
        if (group.length === 1) {
          group[0]?.reject(e);
          continue;
        }
        // One write failed and took the transaction with it: give each its own transaction.
        for (const w of group) {
          try {
            const [result] = await this.commit([w]);
            w.resolve(result);
          } catch (err) {
            w.reject(err);
          }
        }
      }
    }
    this.draining = null;
  }

  private async commit(group: readonly PendingWrite[]): Promise<unknown[]> {
    const started = performance.now();
    try {
      const results = await this.db.runExclusive(async () => {
        // A lone write is one statement (the Backend contract), so its own transaction: no BEGIN/COMMIT round trips.
        const lone = group.length === 1 ? group[0] : undefined;
        if (lone) return [await lone.work(this.lockedSql)];
        await this.execute("BEGIN");
        try {
          const out: unknown[] = [];
          for (const w of group) out.push(await w.work(this.lockedSql));
          const committed = await this.execute("COMMIT");
          if (committed.command === "ROLLBACK") throw new Error("COMMIT rolled back an aborted transaction");
          return out;
        } catch (e) {
          await this.execute("ROLLBACK").catch(() => undefined); // the error that matters is e
          throw e;
        }
      });
      await this.db.syncToFs();
      this.observer?.commit(performance.now() - started);
      return results;
    } catch (e) {
      this.observer?.error(errorClassOf(e));
      throw e;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.draining;
    try {
      await this.db.close(); // a shutdown checkpoint, synced
    } finally {
      this.lock.release();
    }
  }
}
