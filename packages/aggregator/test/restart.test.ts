/** A restart on the same DATA_DIR keeps the challenge, the ledger, the replay set and the quarantine. */
import { appendFileSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { signReceipt } from "@tops/protocol";
import { describe, expect, it } from "vitest";
import { CorruptFileError, EPOCH_SECRET_FILE, LEDGER_FILE } from "../src/index";
import {
  codeOf, getChallenge, honestBody, honestReceipt, LogCapture, newKey, postVerify, startTestAggregator, submit, tempDir, TestClock, work,
} from "./support";

const ledgerText = (dataDir: string): string => readFileSync(join(dataDir, LEDGER_FILE), "utf8");

describe("restart", () => {
  it("reloads the ledger, answers old receipts with their seq (idempotent), refuses another receipt for an old nonce, serves the same challenge", async () => {
    const key = newKey();
    const dataDir = tempDir();
    const clock = new TestClock();
    const env = { ALLOWED_KEYS: key.pubkeyHex, AUDIT_RATE: "1" };

    const first = await startTestAggregator(env, { dataDir, clock });
    const ch = await getChallenge(first.url);
    const receipts = [1, 2, 3, 4, 5].map((n) => honestReceipt(key, ch, n));
    for (const r of receipts) expect(codeOf(await submit(first.url, r))).toBe("OK");
    await first.close();
    expect(statSync(join(dataDir, EPOCH_SECRET_FILE)).mode & 0o777).toBe(0o600);

    const second = await startTestAggregator(env, { dataDir, clock });
    try {
      expect(await getChallenge(second.url)).toEqual(ch);
      for (const [i, r] of receipts.entries()) expect((await postVerify(second.url, r)).body).toMatchObject({ accepted: true, duplicate: true, seq: i + 1, audited: true });
      const other = signReceipt({ ...honestBody(key, ch, 3), time_ms: 1234 }, key.sk);
      expect(codeOf(await postVerify(second.url, other))).toBe("REPLAY");
      const health = (await (await fetch(`${second.url}/healthz`)).json()) as { ledger_entries: number; replay_entries: number };
      expect(health).toMatchObject({ ledger_entries: 5, replay_entries: 5 });
      const next = await submit(second.url, honestReceipt(key, ch, 6));
      expect(next.body).toMatchObject({ accepted: true, seq: 6 });
      expect(ledgerText(dataDir).trim().split("\n").map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      await second.close();
    }
  });

  it("repairs a torn last line (logged) and appends on a clean line", async () => {
    const key = newKey();
    const dataDir = tempDir();
    const clock = new TestClock();
    const first = await startTestAggregator({}, { dataDir, clock });
    const ch = await getChallenge(first.url);
    expect(codeOf(await submit(first.url, honestReceipt(key, ch, 1)))).toBe("OK");
    await first.close();
    const clean = ledgerText(dataDir);
    // A crash in the middle of a write: half a line, no newline, then zero-filled blocks.
    appendFileSync(join(dataDir, LEDGER_FILE), `${clean.slice(0, 40)}\0\0\0\0`);

    const logs = new LogCapture();
    const second = await startTestAggregator({}, { dataDir, clock, logger: logs.logger });
    try {
      const repaired = logs.lines.find((l) => l.event === "ledger_repaired");
      expect(repaired).toMatchObject({ level: 40, truncatedBytes: 44 });
      expect(ledgerText(dataDir)).toBe(clean);
      expect((await postVerify(second.url, honestReceipt(key, ch, 1))).body).toMatchObject({ duplicate: true, seq: 1 });
      expect(codeOf(await submit(second.url, honestReceipt(key, ch, 2)))).toBe("OK");
      const lines = ledgerText(dataDir).split("\n");
      expect(lines.at(-1)).toBe("");
      expect(lines.slice(0, -1).map((l) => (JSON.parse(l) as { receipt: { nonce: number } }).receipt.nonce)).toEqual([1, 2]);
    } finally {
      await second.close();
    }
  });

  it("refuses to start on damage in the middle of the ledger instead of guessing", async () => {
    const dataDir = tempDir();
    const clock = new TestClock();
    const key = newKey();
    const first = await startTestAggregator({}, { dataDir, clock });
    const ch = await getChallenge(first.url);
    for (const n of [1, 2]) expect(codeOf(await submit(first.url, honestReceipt(key, ch, n)))).toBe("OK");
    await first.close();
    const [a, b] = ledgerText(dataDir).trim().split("\n");
    writeFileSync(join(dataDir, LEDGER_FILE), `${a}\n{"torn\n${b}\n`);
    await expect(startTestAggregator({}, { dataDir, clock })).rejects.toBeInstanceOf(CorruptFileError);
  });

  it("keeps a quarantine across a restart", async () => {
    const key = newKey();
    const dataDir = tempDir();
    const clock = new TestClock();
    const first = await startTestAggregator({ AUDIT_RATE: "1", QUARANTINE_SECONDS: "600" }, { dataDir, clock });
    const ch = await getChallenge(first.url);
    expect(codeOf(await submit(first.url, work(key, ch, 1, undefined, () => true)))).toBe("WORK_ROOT_MISMATCH");
    await first.close();

    const second = await startTestAggregator({ AUDIT_RATE: "1", QUARANTINE_SECONDS: "600" }, { dataDir, clock });
    try {
      expect(codeOf(await submit(second.url, honestReceipt(key, ch, 2)))).toBe("KEY_QUARANTINED");
    } finally {
      await second.close();
    }
  });

  it("a different EPOCH_SECONDS gives different challenges (old receipts cannot pass)", async () => {
    const dataDir = tempDir();
    const clock = new TestClock(600);
    const a = await startTestAggregator({ EPOCH_SECONDS: "600" }, { dataDir, clock });
    const chA = await getChallenge(a.url);
    await a.close();
    const b = await startTestAggregator({ EPOCH_SECONDS: "60" }, { dataDir, clock });
    try {
      const chB = await getChallenge(b.url);
      expect(chB.prev_hash_hex).not.toBe(chA.prev_hash_hex);
      expect(codeOf(await postVerify(b.url, honestReceipt(newKey(), chA, 1)))).toBe("STALE_EPOCH");
    } finally {
      await b.close();
    }
  });
});
