import { EmbeddedBackend } from "./embedded";
import { PostgresBackend } from "./postgres";
import { EMBEDDED_BATCH_INTERVAL_MS, SqlReceiptStore } from "./receipt-store";
import { ThreadedEmbeddedStore } from "./threaded";
import type { OpenStoreOptions, ReceiptStore } from "./types";

/**
 * Opens the store: PostgreSQL when `databaseUrl` is set, else the embedded engine under
 * `${dataDir}/db`. Applies pending migrations. Reads no receipts: start-up time and memory do
 * not depend on how many are stored.
 */
export async function openStore(o: OpenStoreOptions): Promise<ReceiptStore> {
  if (o.databaseUrl) {
    const backend = await PostgresBackend.open(o.databaseUrl, o.poolSize ?? 16, o.observer, o.log);
    return new SqlReceiptStore("postgres", backend);
  }
  if (o.embeddedThread === true) return ThreadedEmbeddedStore.open(o.dataDir, o.observer, o.log);
  return new SqlReceiptStore("embedded", await EmbeddedBackend.open(o.dataDir, o.observer, o.log), EMBEDDED_BATCH_INTERVAL_MS);
}
