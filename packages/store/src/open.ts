import { existsSync } from "node:fs";
import { join } from "node:path";
import { EmbeddedBackend } from "./embedded";
import { PostgresBackend } from "./postgres";
import { EMBEDDED_BATCH_INTERVAL_MS, SqlReceiptStore, type ImportTarget } from "./receipt-store";
import { SQLITE_FILE, SqliteReceiptStore } from "./sqlite";
import { ThreadedEmbeddedStore } from "./threaded";
import type { EmbeddedEngine, OpenStoreOptions, ReceiptStore } from "./types";

/** The embedded engine to open: as asked, else the one whose database is already there, else SQLite. */
export function embeddedEngineFor(dataDir: string, asked?: EmbeddedEngine): EmbeddedEngine {
  if (asked) return asked;
  return existsSync(join(dataDir, "db", "PG_VERSION")) && !existsSync(join(dataDir, SQLITE_FILE)) ? "pglite" : "sqlite";
}

/** Opens an embedded engine on the caller's thread (also what the database thread runs). */
export async function openEmbedded(dataDir: string, engine: EmbeddedEngine, o: Pick<OpenStoreOptions, "observer" | "log">): Promise<ReceiptStore & ImportTarget> {
  if (engine === "sqlite") return SqliteReceiptStore.open(dataDir, o.observer, o.log);
  return new SqlReceiptStore("embedded", await EmbeddedBackend.open(dataDir, o.observer, o.log), EMBEDDED_BATCH_INTERVAL_MS);
}

/**
 * Opens the store: PostgreSQL when `databaseUrl` is set, else the embedded engine under
 * `dataDir`. Applies pending migrations. Reads no receipts: start-up time and memory do
 * not depend on how many are stored.
 */
export async function openStore(o: OpenStoreOptions): Promise<ReceiptStore> {
  if (o.databaseUrl) {
    const backend = await PostgresBackend.open(o.databaseUrl, o.poolSize ?? 16, o.observer, o.log);
    return new SqlReceiptStore("postgres", backend);
  }
  const engine = embeddedEngineFor(o.dataDir, o.embeddedEngine);
  if (o.embeddedThread === true) return ThreadedEmbeddedStore.open(o.dataDir, engine, o.observer, o.log);
  return openEmbedded(o.dataDir, engine, o);
}
