/**
 * The PostgreSQL engine (DATABASE_URL), through node-postgres' pool. Every write is one
 * statement, so one transaction; the server syncs its WAL at commit and groups concurrent
 * commits itself, and several aggregator processes can share the database.
 */
import pg from "pg";
import { migrate } from "./migrate";
import { errorClassOf, observed, type Backend, type Row, type Sql } from "./sql";
import type { StoreLog, StoreObserver } from "./types";

export class PostgresBackend implements Backend {
  readonly sql: Sql;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly observer: StoreObserver | undefined,
  ) {
    const raw: Sql = { query: async (text, params) => (await pool.query<Row>(text, params ? [...params] : undefined)).rows };
    this.sql = observer ? observed(raw, (c) => observer.error(c)) : raw;
  }

  static async open(databaseUrl: string, poolSize: number, observer?: StoreObserver, log?: StoreLog): Promise<PostgresBackend> {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize, application_name: "tops-aggregator" });
    // An idle client losing its connection must not crash the process; the next query reconnects.
    pool.on("error", (e) => {
      observer?.error(errorClassOf(e));
      log?.("store_connection_error", { engine: "postgres", error: e.message });
    });
    try {
      const started = performance.now();
      const client = await pool.connect();
      try {
        const applied = await migrate({
          query: async (text, params) => (await client.query<Row>(text, params ? [...params] : undefined)).rows,
          exec: async (text) => {
            await client.query(text);
          },
        });
        log?.("store_open", { engine: "postgres", ms: Math.round(performance.now() - started), migrations_applied: applied });
      } finally {
        client.release();
      }
    } catch (e) {
      observer?.error(errorClassOf(e));
      await pool.end();
      throw e;
    }
    return new PostgresBackend(pool, observer);
  }

  async write<T>(work: (tx: Sql) => Promise<T>): Promise<T> {
    const started = performance.now();
    const result = await work(this.sql);
    this.observer?.commit(performance.now() - started);
    return result;
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
