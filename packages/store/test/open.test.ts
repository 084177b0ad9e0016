/** Which embedded engine openStore picks: as asked, else the one whose database is already in DATA_DIR, else SQLite. */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openStore } from "../src";
import { embeddedEngineFor } from "../src/open";
import { SqlReceiptStore } from "../src/receipt-store";
import { SqliteReceiptStore } from "../src/sqlite";
import { emptyDir, freshEmbeddedDir, makeReceipt, wire } from "./support";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const dir = (make: () => string): string => {
  const d = make();
  dirs.push(d);
  return d;
};

describe("openStore's embedded engine", () => {
  it("a new DATA_DIR gets SQLite, and keeps it when reopened", async () => {
    const d = dir(emptyDir);
    expect(embeddedEngineFor(d)).toBe("sqlite");
    const store = await openStore({ dataDir: d });
    expect(store).toBeInstanceOf(SqliteReceiptStore);
    const r = makeReceipt();
    await store.accept(r, wire(r), { audited: false, acceptedAt: 1, ops: 1 });
    await store.close();
    const again = await openStore({ dataDir: d });
    try {
      expect(await again.findAttempt(r.pubkey_hex, r.epoch_id, r.nonce)).not.toBeNull();
    } finally {
      await again.close();
    }
  });

  it("a DATA_DIR that holds a PGlite database (and no SQLite one) stays on PGlite: nothing is left behind", async () => {
    const d = dir(freshEmbeddedDir);
    expect(embeddedEngineFor(d)).toBe("pglite");
    const store = await openStore({ dataDir: d });
    try {
      expect(store).toBeInstanceOf(SqlReceiptStore);
      expect(store.engine).toBe("embedded");
    } finally {
      await store.close();
    }
    writeFileSync(join(d, "receipts.sqlite"), ""); // both there: the SQLite one is the current one
    expect(embeddedEngineFor(d)).toBe("sqlite");
  });

  it("an engine asked for is the one opened", () => {
    const d = dir(freshEmbeddedDir);
    expect(embeddedEngineFor(d, "sqlite")).toBe("sqlite");
    expect(embeddedEngineFor(dir(emptyDir), "pglite")).toBe("pglite");
  });
});
