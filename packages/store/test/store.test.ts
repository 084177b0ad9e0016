import { readdirSync, readFileSync } from "node:fs";
import { getPriority } from "node:os";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_PAGE, StoreQueryError, type ReceiptStore } from "../src";
import { ENGINES, freshLocation, makeReceipt, pubkey, wire, type StoreLocation } from "./support";

const T0 = 1_767_225_600_000;

for (const { name, skip, reason } of ENGINES) describe.skipIf(skip)(`ReceiptStore on ${name}${reason}`, () => {
  let loc: StoreLocation;
  let store: ReceiptStore;
  const commits: number[] = [];
  beforeEach(async () => {
    commits.length = 0;
    loc = await freshLocation(name);
    store = await loc.open({ observer: { commit: (ms) => commits.push(ms), error: () => undefined } });
  });
  afterEach(async () => {
    await store.close();
    loc.cleanup();
  });

  it("reports its engine", () => {
    expect(store.engine).toBe(name === "postgres" ? "postgres" : "embedded");
  });

  it("stores a receipt and finds it again; the same receipt again is a duplicate with the first seq", async () => {
    const r = makeReceipt();
    const first = await store.accept(r, wire(r), { audited: true, acceptedAt: T0, ops: 1000 });
    expect(first.kind).toBe("stored");
    if (first.kind !== "stored") return;
    expect(commits.length).toBeGreaterThanOrEqual(1);
    expect(await store.findAttempt(r.pubkey_hex, r.epoch_id, r.nonce)).toEqual({ seq: first.seq, sigHex: r.sig_hex, acceptedAt: T0 });
    expect(await store.signatureSeen(r.sig_hex)).toBe(true);
    expect(await store.signatureSeen("00".repeat(64))).toBe(false);
    expect(await store.accept(r, wire(r), { audited: false, acceptedAt: T0 + 5, ops: 1000 })).toEqual({ kind: "duplicate", seq: first.seq, acceptedAt: T0 });
    expect(await store.storedReceipts()).toBe(1);
  });

  it("refuses another receipt for a stored attempt (rule: attempt) and a stored signature under another attempt (rule: signature)", async () => {
    const r = makeReceipt();
    await store.accept(r, wire(r), { audited: false, acceptedAt: T0, ops: 1 });
    const sameAttempt = makeReceipt({ pubkey_hex: r.pubkey_hex, epoch_id: r.epoch_id, nonce: r.nonce });
    expect(await store.accept(sameAttempt, wire(sameAttempt), { audited: false, acceptedAt: T0, ops: 1 })).toEqual({ kind: "replay", rule: "attempt" });
    const twinKey = makeReceipt({ sig_hex: r.sig_hex }); // another key (ECDSA recovery twin) or attempt, same signature
    expect(await store.accept(twinKey, wire(twinKey), { audited: false, acceptedAt: T0, ops: 1 })).toEqual({ kind: "replay", rule: "signature" });
    const sameKeyNextNonce = makeReceipt({ pubkey_hex: r.pubkey_hex, epoch_id: r.epoch_id, nonce: r.nonce + 1 });
    expect((await store.accept(sameKeyNextNonce, wire(sameKeyNextNonce), { audited: false, acceptedAt: T0, ops: 1 })).kind).toBe("stored");
    const nextEpoch = makeReceipt({ pubkey_hex: r.pubkey_hex, epoch_id: r.epoch_id + 1, nonce: r.nonce });
    expect((await store.accept(nextEpoch, wire(nextEpoch), { audited: false, acceptedAt: T0, ops: 1 })).kind).toBe("stored");
    expect(await store.storedReceipts()).toBe(3);
  });

  it("32 concurrent copies of one receipt: exactly one stored, 31 duplicates with its seq", async () => {
    const r = makeReceipt();
    const outcomes = await Promise.all(Array.from({ length: 32 }, () => store.accept(r, wire(r), { audited: false, acceptedAt: T0, ops: 7 })));
    const stored = outcomes.filter((o) => o.kind === "stored");
    expect(stored).toHaveLength(1);
    const seq = stored[0]?.kind === "stored" ? stored[0].seq : -1;
    expect(outcomes.filter((o) => o.kind === "duplicate" && o.seq === seq)).toHaveLength(31);
    expect(await store.storedReceipts()).toBe(1);
  });

  it("many different receipts at once all get distinct seqs, and the count is exact", async () => {
    const receipts = Array.from({ length: 200 }, (_, i) => makeReceipt({ nonce: i }));
    const outcomes = await Promise.all(receipts.map((r) => store.accept(r, wire(r), { audited: false, acceptedAt: T0, ops: 1 })));
    const seqs = outcomes.map((o) => (o.kind === "stored" ? o.seq : -1));
    expect(new Set(seqs).size).toBe(200);
    expect(seqs.every((s) => s > 0)).toBe(true);
    expect(await store.storedReceipts()).toBe(200);
  });

  it("keeps ops as BIGINT: values past 2^53 round-trip exactly as bigint", async () => {
    const big = 2n ** 60n + 3n;
    const r = makeReceipt();
    await store.accept(r, wire(r), { audited: false, acceptedAt: T0, ops: big });
    const page = await store.receipts({ limit: 10 });
    expect(page.items[0]?.ops).toBe(big);
    const [device] = await store.devices({ now: T0 + 1000, windowMs: 60_000 });
    expect(device?.verifiedOps).toBe(big);
    await expect(store.accept(makeReceipt(), "{}", { audited: false, acceptedAt: T0, ops: 2 ** 53 + 1 })).rejects.toThrow(/safe integer/);
    await expect(store.accept(makeReceipt(), "{}", { audited: false, acceptedAt: T0, ops: -1 })).rejects.toThrow(/outside/);
  });

  it("quarantine: refused until the latest deadline, counted per key, survives a restart", async () => {
    const key = pubkey();
    expect(await store.refusedUntil(key, T0)).toBeNull();
    await store.addQuarantine({ pubkeyHex: key, since: T0, until: T0 + 3_600_000, reason: "WORK_ROOT_MISMATCH", evidence: { nonce: 4 } });
    await store.addQuarantine({ pubkeyHex: key, since: T0, until: T0 + 1000, reason: "WORK_ROOT_MISMATCH", evidence: null });
    await store.addQuarantine({ pubkeyHex: pubkey(), since: T0, until: T0 + 10, reason: "X", evidence: {} });
    expect(await store.refusedUntil(key, T0 + 5)).toBe(T0 + 3_600_000);
    expect(await store.quarantinedKeys(T0 + 5)).toBe(2);
    expect(await store.quarantinedKeys(T0 + 10)).toBe(1);
    expect(await store.refusedUntil(key, T0 + 3_600_000)).toBeNull();
    expect(await store.activeQuarantines(T0 + 5)).toHaveLength(2);
    expect(await store.activeQuarantines(T0 + 10)).toEqual([{ pubkeyHex: key, until: T0 + 3_600_000 }]);
    await store.close();
    store = await loc.open();
    expect(await store.refusedUntil(key, T0 + 5)).toBe(T0 + 3_600_000);
    expect(await store.activeQuarantines(T0 + 3_600_000)).toEqual([]);
  });

  it("accept refuses a key quarantined at the acceptance time, in the same statement; stored receipts stay duplicates", async () => {
    const key = pubkey();
    const before = makeReceipt({ pubkey_hex: key, nonce: 1 });
    const stored = await store.accept(before, wire(before), { audited: false, acceptedAt: T0, ops: 1 });
    await store.addQuarantine({ pubkeyHex: key, since: T0 + 1, until: T0 + 1000, reason: "WORK_ROOT_MISMATCH", evidence: {} });
    const during = makeReceipt({ pubkey_hex: key, nonce: 2 });
    const other = makeReceipt({ nonce: 2 });
    // One batch: the quarantined key's receipt is left out, the other key's is stored.
    const [refused, fine] = await Promise.all([
      store.accept(during, wire(during), { audited: false, acceptedAt: T0 + 500, ops: 1 }),
      store.accept(other, wire(other), { audited: false, acceptedAt: T0 + 500, ops: 1 }),
    ]);
    expect(refused).toEqual({ kind: "quarantined", until: T0 + 1000 });
    expect(fine.kind).toBe("stored");
    expect(await store.findAttempt(key, during.epoch_id, during.nonce)).toBeNull();
    // The receipt stored before the quarantine is still answered as stored.
    expect(await store.accept(before, wire(before), { audited: false, acceptedAt: T0 + 500, ops: 1 })).toMatchObject({ kind: "duplicate", seq: stored.kind === "stored" ? stored.seq : -1 });
    // Once the quarantine is over, the key's receipts are stored again.
    expect((await store.accept(during, wire(during), { audited: false, acceptedAt: T0 + 1000, ops: 1 })).kind).toBe("stored");
    expect(await store.storedReceipts()).toBe(3);
  });

  it("epoch secret: created once, then the same for every caller and after a restart", async () => {
    const a = new Uint8Array(32).fill(7);
    const b = new Uint8Array(32).fill(9);
    const [first, second] = await Promise.all([store.epochSecret(() => a), store.epochSecret(() => b)]);
    expect(first).toEqual(second);
    await store.close();
    store = await loc.open();
    expect(await store.epochSecret(() => b)).toEqual(first);
    await expect(store.epochSecret(() => new Uint8Array(3))).resolves.toEqual(first); // existing: create() not called
  });

  it("devices: per key and device, counts, ops, first/last acceptance, quarantine, ops/s over the window", async () => {
    const k1 = pubkey();
    const k2 = pubkey();
    const put = async (key: string, did: string, nonce: number, at: number, ops: number): Promise<void> => {
      const r = makeReceipt({ pubkey_hex: key, device_did: did, nonce });
      expect((await store.accept(r, wire(r), { audited: false, acceptedAt: at, ops })).kind).toBe("stored");
    };
    await put(k1, "gpu-a", 1, T0, 1000);
    await put(k1, "gpu-a", 2, T0 + 50_000, 2000);
    await put(k1, "gpu-b", 3, T0 + 55_000, 500);
    await put(k2, "gpu-a", 1, T0 - 3_600_000, 9000);
    await store.addQuarantine({ pubkeyHex: k2, since: T0, until: T0 + 999_999, reason: "WORK_ROOT_MISMATCH", evidence: {} });
    const now = T0 + 60_000;
    const devices = await store.devices({ now, windowMs: 30_000 });
    expect(devices.map((d) => [d.pubkeyHex, d.deviceDid])).toEqual([[k2, "gpu-a"], [k1, "gpu-a"], [k1, "gpu-b"]]);
    const a = devices[1];
    expect(a).toMatchObject({ receipts: 2, verifiedOps: 3000n, firstSeen: T0, lastSeen: T0 + 50_000, quarantinedUntil: null });
    expect(a?.opsPerSecond).toBeCloseTo(2000 / 30, 6); // only the receipt accepted within the last 30 s
    expect(devices[0]).toMatchObject({ receipts: 1, verifiedOps: 9000n, quarantinedUntil: T0 + 999_999, opsPerSecond: 0 });
    expect(await store.devices({ now, windowMs: 30_000, key: k1, limit: 1 })).toHaveLength(1);
    expect((await store.devices({ now, windowMs: 30_000, key: k1 })).map((d) => d.deviceDid)).toEqual(["gpu-a", "gpu-b"]);
    for (const bad of [{ windowMs: 0 }, { windowMs: 1.5 }, { limit: 0 }, { limit: 10_001 }, { key: "nothex" }, { key: `04${"a".repeat(64)}` }]) {
      await expect(store.devices({ now, windowMs: 1000, ...bad })).rejects.toBeInstanceOf(StoreQueryError);
    }
  });

  it.skipIf(name !== "postgres")("devices adds up the device_totals shards that other connections wrote (postgres)", async () => {
    const key = pubkey();
    const r = makeReceipt({ pubkey_hex: key, device_did: "gpu-s" });
    await store.accept(r, wire(r), { audited: false, acceptedAt: T0, ops: 100 });
    // Another aggregator's connection writes its own shard: the same device, counted once with both shards' sums.
    const client = new pg.Client({ connectionString: loc.options.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ shard: number }>("SELECT shard FROM device_totals WHERE pubkey_hex = $1", [key]);
      const other = ((rows[0]?.shard ?? 0) + 1) % 16;
      await client.query(
        "INSERT INTO device_totals (pubkey_hex, device_did, shard, receipts, ops, first_seen, last_seen) VALUES ($1, 'gpu-s', $2, 2, 50, $3, $4)",
        [key, other, T0 - 10, T0 + 10],
      );
    } finally {
      await client.end();
    }
    const devices = await store.devices({ now: T0 + 20, windowMs: 1000, key });
    expect(devices).toHaveLength(1);
    expect(devices[0]).toMatchObject({ receipts: 3, verifiedOps: 150n, firstSeen: T0 - 10, lastSeen: T0 + 10 });
  });

  it.skipIf(!name.endsWith("-thread"))("the database thread runs at nice +10, the caller's thread stays at its priority", () => {
    const niceOf = (tid: string): number => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
    };
    const nices = readdirSync("/proc/self/task").map(niceOf);
    expect(niceOf(String(process.pid))).toBe(getPriority(0)); // this (the main) thread is untouched
    expect(nices.filter((n) => n === 10).length).toBeGreaterThanOrEqual(1);
  });

  it("receipts: pages in seq order with a cursor, filters by key and since, bounds the page size", async () => {
    const key = pubkey();
    const mine: number[] = [];
    for (let i = 0; i < 25; i++) {
      const r = makeReceipt({ pubkey_hex: i % 2 === 0 ? key : pubkey(), nonce: i });
      const o = await store.accept(r, wire(r), { audited: i % 3 === 0, acceptedAt: T0 + i * 1000, ops: i });
      if (o.kind === "stored" && i % 2 === 0) mine.push(o.seq);
    }
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.receipts({ key, limit: 5, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((s) => s.seq));
      for (const s of page.items) expect(s.receipt.pubkey_hex).toBe(key);
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(seen).toEqual(mine);
    expect(pages).toBe(3); // 13 receipts: 5 + 5 + 3
    const recent = await store.receipts({ since: T0 + 20_000, limit: MAX_PAGE });
    expect(recent.items.map((s) => s.acceptedAt)).toEqual([20, 21, 22, 23, 24].map((i) => T0 + i * 1000));
    expect(recent.nextCursor).toBeNull();
    const first = (await store.receipts({ limit: 1 })).items[0];
    expect(first).toMatchObject({ audited: true, ops: 0n, acceptedAt: T0 });
    expect(first?.receipt.nonce).toBe(0);
    for (const bad of [{ limit: 0 }, { limit: MAX_PAGE + 1 }, { limit: 2.5 }, { limit: 5, cursor: "abc" }, { limit: 5, cursor: "-1" }, { limit: 5, cursor: "99999999999999999" }, { limit: 5, since: -1 }, { limit: 5, key: "02zz" }]) {
      await expect(store.receipts(bad)).rejects.toBeInstanceOf(StoreQueryError);
    }
  });

  it("stores the wire JSON as received and returns it parsed", async () => {
    const r = makeReceipt({ device_did: "did:ünïcode" });
    await store.accept(r, wire(r), { audited: false, acceptedAt: T0, ops: 1 });
    const [item] = (await store.receipts({ limit: 1 })).items;
    expect(item?.receipt).toEqual(r);
    expect(Object.keys(item?.receipt ?? {})).toEqual(Object.keys(r));
  });

  it("reopening applies no migration twice and keeps everything", async () => {
    const r = makeReceipt();
    await store.accept(r, wire(r), { audited: false, acceptedAt: T0, ops: 1 });
    await store.close();
    const events: [string, Record<string, unknown>][] = [];
    store = await loc.open({ log: (e, f) => events.push([e, f]) });
    expect(events.find(([e]) => e === "store_open")?.[1].migrations_applied).toEqual([]);
    expect(await store.storedReceipts()).toBe(1);
  });
});
