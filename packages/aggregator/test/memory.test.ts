/** The in-memory pieces: the replay guard and the epoch schedule (the store is tested in @tops/store). */
import { describe, expect, it } from "vitest";
import { EpochSchedule, ReplayGuard } from "../src/index";

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
