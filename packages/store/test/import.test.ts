import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Receipt } from "@tops/protocol";
import { CorruptFileError, importJsonl, type ReceiptStore } from "../src";
import { STORAGE_ENGINES, freshLocation, hex, makeReceipt, pubkey, type StoreLocation } from "./support";

const T0 = 1_767_225_600_000;
const opsOf = (r: Receipt): bigint => 2n * BigInt(r.sizes.m) * BigInt(r.sizes.n) * BigInt(r.sizes.k) * BigInt(r.sizes.batch);

/** A ledger line exactly as @tops/aggregator's ledger.ts writes it. */
const ledgerLine = (seq: number, acceptedAt: number, audited: boolean, r: Receipt): string =>
  `{"seq":${seq},"accepted_at":${acceptedAt},"audited":${audited},"receipt":${JSON.stringify(r)}}\n`;

let loc: StoreLocation;
let store: ReceiptStore | null = null;
afterEach(async () => {
  await store?.close();
  store = null;
  loc.cleanup();
});

function writeLedger(dir: string, receipts: readonly Receipt[]): void {
  writeFileSync(join(dir, "ledger.jsonl"), receipts.map((r, i) => ledgerLine(i + 1, T0 + i, i % 2 === 0, r)).join(""));
}

for (const { name, skip, reason } of STORAGE_ENGINES) {
  describe.skipIf(skip)(`JSON-lines import on ${name}${reason}`, () => {
    it("imports ledger, quarantine and epoch secret once, keeps seqs, cuts a torn tail, renames the files", async () => {
      loc = await freshLocation(name);
      const dir = loc.options.dataDir;
      const receipts = Array.from({ length: 1203 }, (_, i) => makeReceipt({ nonce: i, sizes: { m: 64, n: 32, k: 16, batch: 2 } }));
      writeLedger(dir, receipts);
      appendFileSync(join(dir, "ledger.jsonl"), '{"seq":1204,"accepted_at":1,"aud'); // torn: no newline
      const quarantined = pubkey();
      writeFileSync(
        join(dir, "quarantine.jsonl"),
        `${JSON.stringify({ pubkey_hex: quarantined, since: T0, until: T0 + 3_600_000, reason: "WORK_ROOT_MISMATCH", evidence: { nonce: 3 } })}\n\0\0\0\0\n`, // zero-filled tail
      );
      const secretHex = hex(32);
      writeFileSync(join(dir, "epoch-secret"), `${secretHex}\n`);
      const events: string[] = [];
      store = await loc.open();
      const report = await importJsonl(store, dir, { opsOf, log: (e) => events.push(e) });
      expect(report).toEqual({ receipts: 1203, quarantine: 1, repaired: true, epochSecret: true, imported: true });
      expect(events).toContain("ledger_repaired");
      expect(events).toContain("jsonl_imported");
      expect(existsSync(join(dir, "ledger.jsonl"))).toBe(false);
      expect(readFileSync(join(dir, "ledger.jsonl.imported"), "utf8").endsWith("\n")).toBe(true);
      expect(await store.storedReceipts()).toBe(1203);
      const r7 = receipts[6];
      if (!r7) throw new Error("no receipt");
      expect(await store.findAttempt(r7.pubkey_hex, r7.epoch_id, r7.nonce)).toEqual({ seq: 7, sigHex: r7.sig_hex, acceptedAt: T0 + 6 });
      const page = await store.receipts({ limit: 2, cursor: "6" });
      expect(page.items[0]).toMatchObject({ seq: 7, audited: true, ops: 2n * 64n * 32n * 16n * 2n, receipt: r7 });
      expect(await store.refusedUntil(quarantined, T0)).toBe(T0 + 3_600_000);
      expect(Buffer.from(await store.epochSecret(() => new Uint8Array(32))).toString("hex")).toBe(secretHex);
      // New accepts continue after the imported seqs.
      const fresh = makeReceipt();
      expect(await store.accept(fresh, JSON.stringify(fresh), { audited: false, acceptedAt: T0, ops: 1 })).toEqual({ kind: "stored", seq: 1204 });
      // Never again, even if a ledger file shows up.
      writeLedger(dir, [makeReceipt()]);
      expect((await importJsonl(store, dir, { opsOf })).imported).toBe(false);
      expect(await store.storedReceipts()).toBe(1204);
    });

    it("an interrupted import is resumed: rows already there are skipped, not doubled", async () => {
      loc = await freshLocation(name);
      const dir = loc.options.dataDir;
      const receipts = Array.from({ length: 40 }, (_, i) => makeReceipt({ nonce: i }));
      writeLedger(dir, receipts.slice(0, 15));
      store = await loc.open();
      // Simulate a first run that died after its receipt batches but before the marker.
      await importJsonl(store, dir, { opsOf });
      await store.close();
      const { Client } = (await import("pg")).default;
      if (loc.options.databaseUrl) {
        const c = new Client(loc.options.databaseUrl);
        await c.connect();
        await c.query("DELETE FROM imports");
        await c.end();
      } else if (name === "sqlite") {
        const { default: Database } = await import("better-sqlite3");
        const db = new Database(join(dir, "receipts.sqlite"));
        db.prepare("DELETE FROM imports").run();
        db.close();
      } else {
        const { PGlite } = await import("@electric-sql/pglite");
        const db = await PGlite.create({ dataDir: join(dir, "db") });
        await db.query("DELETE FROM imports");
        await db.close();
      }
      writeLedger(dir, receipts);
      store = await loc.open();
      const report = await importJsonl(store, dir, { opsOf });
      expect(report.receipts).toBe(25);
      expect(await store.storedReceipts()).toBe(40);
    });

    it("a damaged line followed by good ones refuses the import and writes nothing", async () => {
      loc = await freshLocation(name);
      const dir = loc.options.dataDir;
      const receipts = Array.from({ length: 5 }, (_, i) => makeReceipt({ nonce: i }));
      const lines = receipts.map((r, i) => ledgerLine(i + 1, T0, false, r));
      lines.splice(2, 0, "{not json\n");
      writeFileSync(join(dir, "ledger.jsonl"), lines.join(""));
      store = await loc.open();
      await expect(importJsonl(store, dir, { opsOf })).rejects.toBeInstanceOf(CorruptFileError);
      expect(await store.storedReceipts()).toBe(0);
      expect(existsSync(join(dir, "ledger.jsonl"))).toBe(true);
      writeFileSync(join(dir, "ledger.jsonl"), ledgerLine(1, T0, false, receipts[0] as Receipt).replace('"seq":1', '"seq":"x"'));
      await expect(importJsonl(store, dir, { opsOf })).rejects.toThrow(/line 1: not a ledger entry/);
    });

    it("nothing to import: no files, nothing imported", async () => {
      loc = await freshLocation(name);
      store = await loc.open();
      expect(await importJsonl(store, loc.options.dataDir, { opsOf })).toEqual({ receipts: 0, quarantine: 0, repaired: false, epochSecret: false, imported: false });
    });
  });
}
