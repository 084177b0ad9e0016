/**
 * A restart on the same store keeps the challenge, the receipts (answered idempotently), the
 * quarantine; a JSON-lines ledger from before the database is imported once, torn tail and all.
 */
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { serializeReceipt, signReceipt } from "@tops/protocol";
import { CorruptFileError } from "@tops/store";
import { describe, expect, it } from "vitest";
import { LEDGER_FILE, QUARANTINE_FILE } from "../src/index";
import {
  codeOf, freshStoreEnv, getChallenge, honestBody, honestReceipt, LogCapture, newKey, postVerify, startTestAggregator, storedReceipts, submit, TestClock, work,
} from "./support";

describe("restart", () => {
  it("keeps the receipts (the same receipt gets its seq, another one for its nonce REPLAY), the challenge, and counts on", async () => {
    const key = newKey();
    const clock = new TestClock();
    const store = await freshStoreEnv();
    const env = { ALLOWED_KEYS: key.pubkeyHex, AUDIT_RATE: "1" };

    const first = await startTestAggregator(env, { dataDir: store.dataDir, storeEnv: store.env, clock });
    const ch = await getChallenge(first.url);
    const receipts = [1, 2, 3, 4, 5].map((n) => honestReceipt(key, ch, n));
    for (const r of receipts) expect(codeOf(await submit(first.url, r))).toBe("OK");
    await first.close();

    const second = await startTestAggregator(env, { dataDir: store.dataDir, storeEnv: store.env, clock });
    try {
      expect(await getChallenge(second.url)).toEqual(ch);
      for (const [i, r] of receipts.entries()) expect((await postVerify(second.url, r)).body).toMatchObject({ accepted: true, duplicate: true, seq: i + 1 });
      const other = signReceipt({ ...honestBody(key, ch, 3), time_ms: 1234 }, key.sk);
      expect(codeOf(await postVerify(second.url, other))).toBe("REPLAY");
      const health = (await (await fetch(`${second.url}/healthz`)).json()) as { ledger_entries: number };
      expect(health.ledger_entries).toBe(5);
      const next = await submit(second.url, honestReceipt(key, ch, 6));
      expect(next.body).toMatchObject({ accepted: true, seq: 6 });
      expect((await storedReceipts(second.url)).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      await second.close();
    }
  });

  it("keeps a quarantine across a restart", async () => {
    const key = newKey();
    const clock = new TestClock();
    const store = await freshStoreEnv();
    const first = await startTestAggregator({ AUDIT_RATE: "1", QUARANTINE_SECONDS: "600" }, { dataDir: store.dataDir, storeEnv: store.env, clock });
    const ch = await getChallenge(first.url);
    expect(codeOf(await submit(first.url, work(key, ch, 1, undefined, () => true)))).toBe("WORK_ROOT_MISMATCH");
    await first.close();

    const second = await startTestAggregator({ AUDIT_RATE: "1", QUARANTINE_SECONDS: "600" }, { dataDir: store.dataDir, storeEnv: store.env, clock });
    try {
      expect(codeOf(await submit(second.url, honestReceipt(key, ch, 2)))).toBe("KEY_QUARANTINED");
    } finally {
      await second.close();
    }
  });

  it("a different EPOCH_SECONDS gives different challenges (old receipts cannot pass)", async () => {
    const clock = new TestClock(600);
    const store = await freshStoreEnv();
    const a = await startTestAggregator({ EPOCH_SECONDS: "600" }, { dataDir: store.dataDir, storeEnv: store.env, clock });
    const chA = await getChallenge(a.url);
    await a.close();
    const b = await startTestAggregator({ EPOCH_SECONDS: "60" }, { dataDir: store.dataDir, storeEnv: store.env, clock });
    try {
      const chB = await getChallenge(b.url);
      expect(chB.prev_hash_hex).not.toBe(chA.prev_hash_hex);
      expect(codeOf(await postVerify(b.url, honestReceipt(newKey(), chA, 1)))).toBe("STALE_EPOCH");
    } finally {
      await b.close();
    }
  });
});

describe("the JSON-lines ledger of an earlier version", () => {
  const line = (seq: number, receipt: ReturnType<typeof honestReceipt>): string => `{"seq":${seq},"accepted_at":${1_767_225_600_000 + seq},"audited":true,"receipt":${serializeReceipt(receipt)}}`;

  it("is imported once at start (logged with its counts), torn tail cut; its receipts are answered with their seqs", async () => {
    const key = newKey();
    const clock = new TestClock();
    const store = await freshStoreEnv();
    const secret = "5b".repeat(32);
    writeFileSync(join(store.dataDir, "epoch-secret"), `${secret}\n`, { mode: 0o600 });
    // The old files: three receipts and a torn fourth line, a quarantine record.
    const probe = await startTestAggregator({}, { dataDir: (await freshStoreEnv()).dataDir, clock });
    const ch = await getChallenge(probe.url);
    await probe.close();
    const receipts = [1, 2, 3].map((n) => honestReceipt(key, ch, n));
    writeFileSync(join(store.dataDir, LEDGER_FILE), `${receipts.map((r, i) => line(i + 1, r)).join("\n")}\n{"seq":4,"accep`);
    const stranger = newKey();
    writeFileSync(join(store.dataDir, QUARANTINE_FILE), `${JSON.stringify({ pubkey_hex: stranger.pubkeyHex, since: clock.now, until: clock.now + 600_000, reason: "WORK_ROOT_MISMATCH", evidence: {} })}\n`);

    const logs = new LogCapture();
    const agg = await startTestAggregator({ AUDIT_RATE: "0" }, { dataDir: store.dataDir, storeEnv: store.env, clock, logger: logs.logger });
    try {
      expect(logs.lines.find((l) => l.event === "ledger_imported")).toMatchObject({ receipts: 3, quarantine: 1, repaired: true });
      expect((await storedReceipts(agg.url)).map((r) => r.seq)).toEqual([1, 2, 3]);
      // The import ran under the old files' epoch secret: an old receipt is the same receipt, answered with its seq.
      expect((await postVerify(agg.url, receipts[1]!)).body).toMatchObject({ duplicate: true, seq: 2 });
      expect(codeOf(await postVerify(agg.url, honestReceipt(stranger, await getChallenge(agg.url), 1)))).toBe("KEY_QUARANTINED");
      expect(readdirSync(store.dataDir).filter((f) => f.endsWith(".imported")).sort()).toEqual([`${LEDGER_FILE}.imported`, `${QUARANTINE_FILE}.imported`].sort());
    } finally {
      await agg.close();
    }
    // Never twice: a second start imports nothing and stores the same three.
    const again = await startTestAggregator({ AUDIT_RATE: "0" }, { dataDir: store.dataDir, storeEnv: store.env, clock });
    try {
      expect((await storedReceipts(again.url)).map((r) => r.seq)).toEqual([1, 2, 3]);
    } finally {
      await again.close();
    }
  });

  it("a damaged line in the middle refuses the start instead of guessing", async () => {
    const key = newKey();
    const store = await freshStoreEnv();
    const ch = { epoch_id: 1, prev_hash_hex: "00".repeat(32), expires_at: 0 };
    const [a, b] = [1, 2].map((n) => line(n, honestReceipt(key, ch, n)));
    writeFileSync(join(store.dataDir, LEDGER_FILE), `${a}\n{"torn\n${b}\n`);
    await expect(startTestAggregator({}, { dataDir: store.dataDir, storeEnv: store.env })).rejects.toBeInstanceOf(CorruptFileError);
  });
});
