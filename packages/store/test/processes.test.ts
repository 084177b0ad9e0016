import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openStore, type AcceptOutcome } from "../src";
import { EmbeddedBackend } from "../src/embedded";
import { SqlReceiptStore } from "../src/receipt-store";
import { SqliteReceiptStore } from "../src/sqlite";
import { spawnChild, type Child } from "./child";
import { STORAGE_ENGINES, freshDatabaseUrl, freshLocation, havePostgres, makeReceipt, pgUnavailable, wire, type StoreLocation } from "./support";

const children: Child[] = [];
const locations: StoreLocation[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    c.kill9();
    await c.exited;
  }
  for (const l of locations.splice(0)) l.cleanup();
});

function childEnv(loc: StoreLocation, extra: Record<string, string> = {}): Record<string, string> {
  return { STORE_DATA_DIR: loc.options.dataDir, DATABASE_URL: loc.options.databaseUrl ?? "", STORE_EMBEDDED_ENGINE: loc.options.embeddedEngine ?? "", ...extra };
}

for (const { name, skip, reason } of STORAGE_ENGINES) {
  describe.skipIf(skip)(`crash safety on ${name}${reason}`, () => {
    it("kill -9 in the middle of a stream of accepts: every accept that resolved is there after a restart", async () => {
      const loc = await freshLocation(name);
      locations.push(loc);
      for (let round = 0; round < 2; round++) {
        const child = spawnChild(childEnv(loc, { MODE: "stream" }));
        children.push(child);
        let acked = 0;
        await child.waitFor(() => ++acked >= 300 + round * 100);
        child.kill9();
        await child.exited;
      }
      const acknowledged = children.flatMap((c) => c.lines.filter((l) => l.startsWith("ok ")).map((l) => l.split(" ")));
      expect(acknowledged.length).toBeGreaterThanOrEqual(700);
      const store = await loc.open(); // recovers after the crash (embedded: takes over the dead process's lock)
      try {
        for (const [, key, nonce, seq] of acknowledged) {
          const found = await store.findAttempt(String(key), 7, Number(nonce));
          expect(found?.seq, `${key} nonce ${nonce}`).toBe(Number(seq));
        }
        const all = await store.receipts({ limit: 1000 });
        const rows = all.items.length + (all.nextCursor ? (await store.receipts({ limit: 1000, cursor: all.nextCursor })).items.length : 0);
        expect(await store.storedReceipts()).toBe(rows); // the counter committed with the rows
        expect(rows).toBeGreaterThanOrEqual(acknowledged.length);
      } finally {
        await store.close();
      }
    });
  });
}

describe("PGlite durability", () => {
  it("commits call fsync (PGlite's own build never does), grouped: fewer syncs than concurrent accepts", async () => {
    const loc = await freshLocation("pglite");
    locations.push(loc);
    const store = await loc.open();
    try {
      if (!(store instanceof SqlReceiptStore) || !(store.importBackend instanceof EmbeddedBackend)) throw new Error("not the PGlite engine");
      const backend = store.importBackend;
      const before = backend.syncs;
      const one = makeReceipt();
      await store.accept(one, wire(one), { audited: false, acceptedAt: 1, ops: 1 });
      expect(backend.syncs).toBeGreaterThan(before);
      const mid = backend.syncs;
      const many = Array.from({ length: 64 }, (_, i) => makeReceipt({ nonce: i }));
      const outcomes = await Promise.all(many.map((r) => store.accept(r, wire(r), { audited: false, acceptedAt: 1, ops: 1 })));
      expect(outcomes.every((o) => o.kind === "stored")).toBe(true);
      expect(backend.syncs - mid).toBeGreaterThan(0);
      expect(backend.syncs - mid).toBeLessThan(64);
    } finally {
      await store.close();
    }
  });
});

describe("SQLite durability", () => {
  it("runs with a WAL synced at every commit (synchronous=FULL), accepts grouped: fewer commits than concurrent accepts", async () => {
    const loc = await freshLocation("sqlite");
    locations.push(loc);
    let commits = 0;
    const store = await loc.open({ observer: { commit: () => void commits++, error: () => undefined } });
    try {
      if (!(store instanceof SqliteReceiptStore)) throw new Error("not the SQLite engine");
      expect(store.database.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(store.database.pragma("synchronous", { simple: true })).toBe(2); // FULL
      const many = Array.from({ length: 64 }, (_, i) => makeReceipt({ nonce: i }));
      const outcomes = await Promise.all(many.map((r) => store.accept(r, wire(r), { audited: false, acceptedAt: 1, ops: 1 })));
      expect(outcomes.every((o) => o.kind === "stored")).toBe(true);
      expect(commits).toBeGreaterThan(0);
      expect(commits).toBeLessThan(64);
    } finally {
      await store.close();
    }
  });
});

for (const engine of ["sqlite", "pglite"] as const) {
  describe(`one process per embedded database (${engine})`, () => {
    it("a second process cannot open the same embedded database while the first has it", async () => {
      const loc = await freshLocation(engine);
      locations.push(loc);
      const store = await loc.open();
      try {
        const child = spawnChild(childEnv(loc, { MODE: "race", COPIES: "1", RECEIPT_JSON: wire(makeReceipt()) }));
        children.push(child);
        expect(await child.exited).not.toBe(0);
        expect(child.lines).not.toContain("ready");
        await expect(loc.open()).rejects.toThrow(/already open in this process/);
      } finally {
        await store.close();
      }
    });

    it("a lock left by a dead process, or by an earlier process with this pid (container restart), is taken over", async () => {
      const loc = await freshLocation(engine);
      locations.push(loc);
      writeFileSync(join(loc.options.dataDir, "db.lock"), `${process.pid} 1\n`); // our pid, another start time
      const store = await loc.open();
      await store.close();
      writeFileSync(join(loc.options.dataDir, "db.lock"), "2147483646 5\n"); // no such process
      const again = await loc.open();
      await again.close();
    });
  });
}

describe.skipIf(!havePostgres)(`two processes on one PostgreSQL${havePostgres ? "" : ` (skipped: ${pgUnavailable})`}`, () => {
  it("race N concurrent copies of one receipt: exactly one stored, every other a duplicate of it; one epoch secret", async () => {
    const databaseUrl = await freshDatabaseUrl();
    const receipt = makeReceipt();
    const copies = 24;
    const racers = [0, 1].map(() => spawnChild({ STORE_DATA_DIR: "/nonexistent", DATABASE_URL: databaseUrl, MODE: "race", COPIES: String(copies), RECEIPT_JSON: wire(receipt) }));
    children.push(...racers);
    await Promise.all(racers.map((c) => c.waitFor((l) => l === "ready")));
    for (const c of racers) c.proc.stdin?.write("go\n");
    const results = await Promise.all(racers.map(async (c) => JSON.parse(await c.waitFor((l) => l.startsWith("{"))) as { outcomes: AcceptOutcome[]; secret: string }));
    const outcomes = results.flatMap((r) => r.outcomes);
    expect(outcomes).toHaveLength(2 * copies);
    const stored = outcomes.filter((o) => o.kind === "stored");
    expect(stored).toHaveLength(1);
    const seq = stored[0]?.kind === "stored" ? stored[0].seq : -1;
    expect(outcomes.filter((o) => o.kind === "duplicate" && o.seq === seq)).toHaveLength(2 * copies - 1);
    expect(results[0]?.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(results[1]?.secret).toBe(results[0]?.secret);
    const store = await openStore({ dataDir: "/nonexistent", databaseUrl });
    try {
      expect(await store.storedReceipts()).toBe(1);
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(!havePostgres)(`two processes on one PostgreSQL, many receipts${havePostgres ? "" : ` (skipped: ${pgUnavailable})`}`, () => {
  it("both submit the same 300 receipts in different orders at once: each stored exactly once, no error", async () => {
    const databaseUrl = await freshDatabaseUrl();
    const receipts = Array.from({ length: 300 }, (_, i) => makeReceipt({ nonce: i, device_did: `did:race:${i % 7}` }));
    const loc = await freshLocation("sqlite"); // only for a temp dir holding the receipts file
    locations.push(loc);
    const file = join(loc.options.dataDir, "receipts.json");
    writeFileSync(file, JSON.stringify(receipts));
    const racers = [0, 1].map(() => spawnChild({ STORE_DATA_DIR: "/nonexistent", DATABASE_URL: databaseUrl, MODE: "race-many", RECEIPTS_FILE: file }));
    children.push(...racers);
    await Promise.all(racers.map((c) => c.waitFor((l) => l === "ready")));
    for (const c of racers) c.proc.stdin?.write("go\n");
    const results = await Promise.all(racers.map(async (c) => JSON.parse(await c.waitFor((l) => l.startsWith("{"))) as { outcomes: { nonce: number; outcome: AcceptOutcome }[]; dbErrors: Record<string, number> }));
    expect(results.map((r) => r.dbErrors)).toEqual([{}, {}]); // no deadlock (locks taken in key order), no retry
    const byNonce = new Map<number, AcceptOutcome[]>();
    for (const { nonce, outcome } of results.flatMap((r) => r.outcomes)) byNonce.set(nonce, [...(byNonce.get(nonce) ?? []), outcome]);
    expect(byNonce.size).toBe(300);
    for (const [nonce, outcomes] of byNonce) {
      const kinds = outcomes.map((o) => o.kind).sort();
      expect(kinds, `nonce ${nonce}`).toEqual(["duplicate", "stored"]);
      const seqs = outcomes.map((o) => ("seq" in o ? o.seq : -1));
      expect(seqs[0]).toBe(seqs[1]);
    }
    const store = await openStore({ dataDir: "/nonexistent", databaseUrl });
    try {
      expect(await store.storedReceipts()).toBe(300);
      const devices = await store.devices({ now: Date.now() + 1000, windowMs: 3_600_000 });
      expect(devices.reduce((n, d) => n + d.receipts, 0)).toBe(300);
      // Each device once, however many shards of device_totals the two processes' connections wrote.
      expect(new Set(devices.map((d) => `${d.pubkeyHex}/${d.deviceDid}`)).size).toBe(devices.length);
    } finally {
      await store.close();
    }
  });
});
