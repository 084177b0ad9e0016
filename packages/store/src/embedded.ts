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
import { PGlite, type Transaction } from "@electric-sql/pglite";
import { DirLock } from "./dir-lock";
import { DurableNodeFS, durableStartParams } from "./durable-nodefs";
import { migrate } from "./migrate";
import { errorClassOf, observed, type Backend, type Row, type Sql } from "./sql";
import type { StoreLog, StoreObserver } from "./types";

/** Most writes in one group-commit transaction. */
const MAX_GROUP = 512;

interface PendingWrite {
  readonly work: (tx: Sql) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (e: unknown) => void;
}

function txSql(tx: Transaction): Sql {
  return { query: async (text, params) => (await tx.query<Row>(text, params ? [...params] : undefined)).rows };
}

export class EmbeddedBackend implements Backend {
  readonly sql: Sql;
  private readonly rawSql: Sql;
  private queue: PendingWrite[] = [];
  private draining: Promise<void> | null = null;
  private closed = false;

  private constructor(
    private readonly db: PGlite,
    private readonly fs: DurableNodeFS,
    private readonly lock: DirLock,
    private readonly observer: StoreObserver | undefined,
  ) {
    this.rawSql = { query: async (text, params) => (await db.query<Row>(text, params ? [...params] : undefined)).rows };
    this.sql = observer ? observed(this.rawSql, (c) => observer.error(c)) : this.rawSql;
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
      // A lone write is one statement (the Backend contract), so its own transaction: no BEGIN/COMMIT round trips.
      const results =
        group.length === 1 && group[0]
          ? [await group[0].work(this.rawSql)]
          : await this.db.transaction(async (tx) => {
              const sql = txSql(tx);
              const out: unknown[] = [];
              for (const w of group) out.push(await w.work(sql));
              return out;
            });
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
