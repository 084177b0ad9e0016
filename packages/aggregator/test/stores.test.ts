/** The durable pieces on their own: JSON-lines file, ledger, replay guard, epochs and their secret. */
import { appendFileSync, chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  CorruptFileError, EPOCH_SECRET_FILE, EpochSchedule, JsonLinesFile, loadOrCreateEpochSecret, ReplayGuard,
} from "../src/index";
import { tempDir } from "./support";

describe("JsonLinesFile", () => {
  it("group-commits concurrent appends in order, one line each", async () => {
    const path = join(tempDir("jsonl"), "x.jsonl");
    const { file, report } = await JsonLinesFile.open(path, () => {});
    expect(report).toEqual({ records: 0, repairedBytes: 0, created: true });
    await Promise.all(Array.from({ length: 500 }, (_, i) => file.append(JSON.stringify({ i, pad: "x".repeat(i % 50) }))));
    await file.close();
    const lines = readFileSync(path, "utf8").split("\n");
    expect(lines.pop()).toBe("");
    expect(lines.map((l) => (JSON.parse(l) as { i: number }).i)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("reads records back, truncating a torn tail (bytes after the last newline, or a last line that is not JSON)", async () => {
    const dir = tempDir("jsonl");
    for (const [tail, torn] of [['{"a":', 5], ['{"a":3}', 7], ['{"a":3\n', 7], ["\0\0\0\0\0\0", 6], ["", 0]] as const) {
      const path = join(dir, `t${torn}-${tail.length}.jsonl`);
      writeFileSync(path, `{"a":1}\n\n{"a":2}\n${tail}`);
      const seen: unknown[] = [];
      const { file, report } = await JsonLinesFile.open(path, (v) => seen.push(v));
      expect(seen).toEqual([{ a: 1 }, { a: 2 }]);
      expect(report.repairedBytes).toBe(torn);
      await file.append('{"a":4}');
      await file.close();
      expect(readFileSync(path, "utf8")).toBe('{"a":1}\n\n{"a":2}\n{"a":4}\n');
    }
  });

  it("refuses damage followed by good lines, and records its callback rejects", async () => {
    const dir = tempDir("jsonl");
    writeFileSync(join(dir, "a"), '{"a":1}\nxx\n{"a":2}\n');
    await expect(JsonLinesFile.open(join(dir, "a"), () => {})).rejects.toThrow(/line 2 is not JSON yet line 3/);
    writeFileSync(join(dir, "b"), '{"a":1}\n');
    await expect(JsonLinesFile.open(join(dir, "b"), () => {
      throw new Error("wrong shape");
    })).rejects.toBeInstanceOf(CorruptFileError);
  });

  it("reads files larger than one read chunk with lines across chunk borders", async () => {
    const path = join(tempDir("jsonl"), "big.jsonl");
    const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ i, s: "y".repeat(i % 97) }));
    writeFileSync(path, `${lines.join("\n")}\n`);
    let n = 0;
    const { file, report } = await JsonLinesFile.open(path, (v) => expect((v as { i: number }).i).toBe(n++));
    await file.close();
    expect(report.records).toBe(3000);
  });

  it("refuses a record containing a newline, and appends after close", async () => {
    const path = join(tempDir("jsonl"), "x.jsonl");
    const { file } = await JsonLinesFile.open(path, () => {});
    await expect(file.append("{\n}")).rejects.toThrow(/newline/);
    await file.close();
    await expect(file.append("{}")).rejects.toThrow(/closed/);
  });
});

describe("ReplayGuard", () => {
  const r = (epoch_id: number, nonce: number, sig = `${epoch_id}-${nonce}`, pubkey_hex = "02aa") => ({ epoch_id, nonce, sig_hex: sig, pubkey_hex });

  it("flags a seen attempt and a seen signature under any key; the same receipt is 'same' with its state; forget() undoes a claim", () => {
    const g = new ReplayGuard();
    g.advanceTo(10);
    g.set(r(10, 1, "s1"), { kind: "in_flight" });
    expect(g.violation(r(10, 1, "other"))).toBe("attempt");
    expect(g.violation(r(10, 2, "s1", "03bb"))).toBe("signature");
    expect(g.violation(r(10, 1, "s9", "03bb"))).toBeNull();
    expect(g.violation(r(9, 1, "s9"))).toBeNull();
    expect(g.lookup(r(10, 1, "s1"))).toEqual({ kind: "same", state: { kind: "in_flight" } });
    g.set(r(10, 1, "s1"), { kind: "stored", seq: 7, audited: true });
    expect(g.lookup(r(10, 1, "s1"))).toEqual({ kind: "same", state: { kind: "stored", seq: 7, audited: true } });
    expect(g.size).toBe(1);
    g.forget(r(10, 1, "other"));
    expect(g.size).toBe(1);
    g.forget(r(10, 1, "s1"));
    expect(g.lookup(r(10, 1, "s1"))).toEqual({ kind: "new" });
    expect(g.violation(r(10, 2, "s1", "03bb"))).toBeNull();
    expect(g.size).toBe(0);
  });

  it("forgets epochs that can no longer be fresh, keeping one of slack", () => {
    const g = new ReplayGuard();
    g.advanceTo(10);
    for (const e of [7, 8, 9, 10]) g.set(r(e, 1), { kind: "stored", seq: e, audited: false });
    expect(g.size).toBe(3);
    g.advanceTo(11);
    expect(g.size).toBe(2);
    expect(g.lookup(r(9, 1)).kind).toBe("same");
    expect(g.violation(r(9, 1, "other"))).toBe("attempt");
    expect(g.lookup(r(8, 1)).kind).toBe("new");
  });
});

describe("epochs", () => {
  it("creates the secret once (0600), repairs a loose mode, and refuses a damaged one", () => {
    const dir = tempDir("epoch");
    const first = loadOrCreateEpochSecret(dir);
    expect(first.created).toBe(true);
    const path = join(dir, EPOCH_SECRET_FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    chmodSync(path, 0o644);
    const second = loadOrCreateEpochSecret(dir);
    expect(second).toMatchObject({ created: false, modeRepaired: true });
    expect(second.secret).toEqual(first.secret);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    appendFileSync(path, "zz");
    expect(() => loadOrCreateEpochSecret(dir)).toThrow(/64 lowercase hex/);
  });

  it("derives the same challenge from the same secret, a different one per epoch, and checks freshness", () => {
    const secret = new Uint8Array(32).fill(7);
    const a = new EpochSchedule(secret, 60);
    const b = new EpochSchedule(secret, 60);
    const t = 1_700_000_000_123;
    const ch = a.challengeAt(t);
    expect(b.challengeAt(t)).toEqual(ch);
    expect(ch.epoch_id).toBe(Math.floor(t / 60_000));
    expect(ch.expires_at).toBe((ch.epoch_id + 1) * 60_000);
    expect(a.challengeAt(t + 60_000).prev_hash_hex).not.toBe(ch.prev_hash_hex);
    expect(new EpochSchedule(new Uint8Array(32).fill(8), 60).challengeAt(t).prev_hash_hex).not.toBe(ch.prev_hash_hex);
    expect(a.freshnessProblem(ch.epoch_id, ch.prev_hash_hex, t)).toBeNull();
    expect(a.freshnessProblem(ch.epoch_id, ch.prev_hash_hex, t + 60_000)).toBeNull();
    expect(a.freshnessProblem(ch.epoch_id, ch.prev_hash_hex, t + 120_000)).toBe("STALE_EPOCH");
    expect(a.freshnessProblem(ch.epoch_id + 1, a.prevHashHex(ch.epoch_id + 1), t)).toBe("STALE_EPOCH");
    expect(a.freshnessProblem(ch.epoch_id, "00".repeat(32), t)).toBe("PREV_HASH_MISMATCH");
  });
});
