/**
 * The audit exchange over real HTTP (SPEC.md §8): deadlines, malformed openings, openings
 * finished by another aggregator sharing the secret, and soundness measured against workers
 * that compute only part of their rows.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { auditMacs, bytesToHex, publicKeyHex, type AuditRequest, type Sizes } from "@tops/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import { AuditPolicy, EPOCH_SECRET_FILE } from "../src/index";
import {
  codeOf, freshStoreEnv, getChallenge, newKey, openingsFor, postAudit, postVerify, startedForThisFile, submit, TEST_STORE, TestClock, work, type TestAggregator,
} from "./support";

/** Aggregators of this file, all closed after its last test. */
const started = startedForThisFile();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the audit deadline", () => {
  it("openings after AUDIT_TIMEOUT_MS are refused (AUDIT_EXPIRED), the receipt stays refused, timeouts are counted", async () => {
    const key = newKey();
    const agg = await started({ AUDIT_RATE: "1", AUDIT_TIMEOUT_MS: "300", AUDIT_TIMEOUT_QUARANTINE: "0" });
    const w = work(key, await getChallenge(agg.url), 1);
    const first = await postVerify(agg.url, w.receipt);
    expect(first.status).toBe(202);
    await sleep(500);
    agg.clock.advance(500);
    const late = await postAudit(agg.url, openingsFor(w, first.body.audit!));
    expect([late.status, codeOf(late)]).toEqual([422, "AUDIT_EXPIRED"]);
    const again = await postVerify(agg.url, w.receipt);
    expect([again.status, codeOf(again)]).toEqual([422, "AUDIT_EXPIRED"]);
    const text = await (await fetch(`${agg.url}/metrics`)).text();
    expect(text).toMatch(/tops_aggregator_audits_total\{result="timeout"\} 1/);
  });

  it("AUDIT_TIMEOUT_QUARANTINE unanswered audits of one key quarantine it", async () => {
    const key = newKey();
    const agg = await started({ AUDIT_RATE: "1", AUDIT_TIMEOUT_MS: "200", AUDIT_TIMEOUT_QUARANTINE: "2" });
    const ch = await getChallenge(agg.url);
    for (const nonce of [1, 2]) expect((await postVerify(agg.url, work(key, ch, nonce).receipt)).status).toBe(202);
    await sleep(450);
    expect(codeOf(await submit(agg.url, work(key, ch, 3)))).toBe("KEY_QUARANTINED");
  });
});

describe("malformed or misdirected openings", () => {
  const key = newKey();
  let agg: TestAggregator;
  let w: ReturnType<typeof work>;
  let audit: AuditRequest;
  const body = (): Record<string, unknown> => JSON.parse(openingsFor(w, audit)) as Record<string, unknown>;

  beforeAll(async () => {
    agg = await started({ AUDIT_RATE: "1", AUDIT_ROWS: "4", QUARANTINE_SECONDS: "0" });
    w = work(key, await getChallenge(agg.url), 1, { m: 40, n: 8, k: 8, batch: 1 });
    audit = (await postVerify(agg.url, w.receipt)).body.audit!;
  });

  it("the receipt is under audit: 4 distinct rows of 40", () => {
    expect(new Set(audit.rows).size).toBe(4);
    expect(audit.rows.every((r) => r >= 0 && r < 40)).toBe(true);
  });

  const cases: [string, () => Record<string, unknown> | string, number, string][] = [
    ["not JSON", () => "{", 400, "BAD_OPENINGS"],
    ["an unknown field", () => ({ ...body(), extra: 1 }), 400, "BAD_OPENINGS"],
    ["openings not an array", () => ({ ...body(), openings: {} }), 400, "BAD_OPENINGS"],
    ["a row out of range", () => ({ ...body(), openings: [{ row: 40, y2_hex: "00".repeat(8), path: [] }] }), 400, "BAD_OPENINGS"],
    ["a short row", () => ({ ...body(), openings: [{ row: 0, y2_hex: "00", path: [] }] }), 400, "BAD_OPENINGS"],
    ["an audit_id of another receipt", () => ({ ...body(), audit_id: `${audit.audit_id.split(".")[0]}.${"0".repeat(32)}` }), 400, "BAD_AUDIT_ID"],
    ["a receipt that does not parse", () => ({ ...body(), receipt: { nonce: 1 } }), 400, "MISSING_FIELD"],
    ["a tampered receipt", () => ({ ...body(), receipt: { ...w.receipt, time_ms: 1 } }), 401, "BAD_SIGNATURE"],
  ];
  for (const [name, make, status, code] of cases) {
    it(`${name} → ${status} ${code}`, async () => {
      const a = await postAudit(agg.url, make());
      expect([a.status, codeOf(a)]).toEqual([status, code]);
    });
  }

  it("the right rows in another order → 422 OPENING_MISMATCH, refused for good", async () => {
    const b = body();
    const reversed = { ...b, openings: [...(b.openings as unknown[])].reverse() };
    const a = await postAudit(agg.url, reversed);
    expect([a.status, codeOf(a)]).toEqual([422, "OPENING_MISMATCH"]);
    expect(codeOf(await postAudit(agg.url, openingsFor(w, audit)))).toBe("OPENING_MISMATCH");
  });
});

describe("several aggregators sharing one epoch secret", () => {
  it("an audit issued by one is finished by the other, and asks the same rows", async () => {
    // On PostgreSQL two aggregators share one database (and so its secret); embedded, each has its
    // own database and the same secret is given to both (the file is imported at start).
    const clock = new TestClock();
    const storeA = await freshStoreEnv();
    const storeB = TEST_STORE === "postgres" ? { dataDir: (await freshStoreEnv()).dataDir, env: storeA.env } : await freshStoreEnv();
    for (const dir of new Set([storeA.dataDir, storeB.dataDir])) writeFileSync(join(dir, EPOCH_SECRET_FILE), `${"e1".repeat(32)}\n`, { mode: 0o600 });
    const a = await started({ AUDIT_RATE: "1" }, { dataDir: storeA.dataDir, storeEnv: storeA.env, clock });
    const b = await started({ AUDIT_RATE: "1" }, { dataDir: storeB.dataDir, storeEnv: storeB.env, clock });
    const key = newKey();
    const w = work(key, await getChallenge(a.url), 1, { m: 64, n: 8, k: 8, batch: 1 });
    const fromA = await postVerify(a.url, w.receipt);
    const fromB = await postVerify(b.url, w.receipt);
    expect(fromB.body.audit!.rows).toEqual(fromA.body.audit!.rows);
    const done = await postAudit(b.url, openingsFor(w, fromA.body.audit!));
    expect(codeOf(done)).toBe("OK");
  });
});

describe.skipIf(TEST_STORE !== "postgres")(`a quarantine on a shared PostgreSQL${TEST_STORE === "postgres" ? "" : " (skipped: needs the postgres run, TOPS_TEST_STORE=postgres)"}`, () => {
  it("is enforced by every aggregator at commit at once, and before the audit after QUARANTINE_REFRESH_MS", async () => {
    const clock = new TestClock();
    const shared = await freshStoreEnv();
    const other = async (env: Record<string, string>) => started(env, { dataDir: (await freshStoreEnv()).dataDir, storeEnv: shared.env, clock });
    // Both read the (empty) quarantine list before the key fails its audit at `a`.
    const stale = await other({ AUDIT_RATE: "0", QUARANTINE_REFRESH_MS: "600000" });
    const fresh = await other({ AUDIT_RATE: "1", QUARANTINE_REFRESH_MS: "100" });
    const a = await started({ AUDIT_RATE: "1", QUARANTINE_SECONDS: "600" }, { dataDir: shared.dataDir, storeEnv: shared.env, clock });
    const key = newKey();
    const ch = await getChallenge(a.url);
    expect(codeOf(await submit(a.url, work(key, ch, 1, undefined, () => true)))).toBe("WORK_ROOT_MISMATCH");

    // `stale` has not read the list again, but its accept statement sees the committed quarantine.
    const refused = await postVerify(stale.url, work(key, ch, 2).receipt);
    expect([refused.status, codeOf(refused)]).toEqual([403, "KEY_QUARANTINED"]);
    expect(codeOf(await postVerify(stale.url, work(key, ch, 3).receipt))).toBe("KEY_QUARANTINED"); // now from memory
    expect(codeOf(await postVerify(stale.url, work(newKey(), ch, 3).receipt))).toBe("OK");

    // `fresh` refuses before asking for an audit (403, not 202) once it has read the list again.
    const deadline = Date.now() + 5000;
    let answer = await postVerify(fresh.url, work(key, ch, 4).receipt);
    while (answer.status === 202 && Date.now() < deadline) {
      await sleep(50);
      answer = await postVerify(fresh.url, work(key, ch, 5 + Math.floor(Math.random() * 1e6)).receipt);
    }
    expect([answer.status, codeOf(answer)]).toEqual([403, "KEY_QUARANTINED"]);
  });
});

describe("ledger metrics", () => {
  it("stored receipts, verified ops (new receipts only, not duplicates) and quarantined keys on /metrics", async () => {
    const agg = await started({ AUDIT_RATE: "1" });
    const ch = await getChallenge(agg.url);
    const honest = work(newKey(), ch, 1, { m: 8, n: 8, k: 8, batch: 2 });
    expect(codeOf(await submit(agg.url, honest))).toBe("OK");
    expect((await postVerify(agg.url, honest.receipt)).body.duplicate).toBe(true);
    expect(codeOf(await submit(agg.url, work(newKey(), ch, 2, { m: 8, n: 8, k: 8, batch: 2 }, () => true)))).toBe("WORK_ROOT_MISMATCH");
    const text = await (await fetch(`${agg.url}/metrics`)).text();
    const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
    expect(value("tops_aggregator_stored_receipts")).toBe(1);
    expect(value("tops_aggregator_verified_ops_total")).toBe(2 * (2 * 8 * 8 * 8 + 2 * 8 * 8 * 8));
    expect(value("tops_aggregator_quarantined_keys")).toBe(1);
    agg.clock.advance(3600_000 + 1);
    const later = await (await fetch(`${agg.url}/metrics`)).text();
    expect(later).toMatch(/^tops_aggregator_quarantined_keys 0$/m);
  });
});

describe("operator queries: GET /devices and GET /receipts", () => {
  it("per device totals, ops/s from acceptance times, quarantine; receipts paged by seq and filtered by key", async () => {
    const agg = await started({ AUDIT_RATE: "0" });
    const ch = await getChallenge(agg.url);
    const [k1, k2] = [newKey(), newKey()];
    const sizes = { m: 8, n: 8, k: 8, batch: 1 };
    for (let nonce = 1; nonce <= 3; nonce++) expect(codeOf(await submit(agg.url, work(k1, ch, nonce, sizes)))).toBe("OK");
    expect(codeOf(await submit(agg.url, work(k2, ch, 1, sizes)))).toBe("OK");
    const ops = 2 * 8 * 8 * 8 + 2 * 8 * 8 * 8;
    const { devices, window_s } = (await (await fetch(`${agg.url}/devices?window_s=60`)).json()) as {
      window_s: number; devices: { pubkey_hex: string; receipts: number; verified_ops: string; ops_per_second: number; quarantined_until: number | null; first_seen: number }[];
    };
    expect(window_s).toBe(60);
    const d1 = devices.find((d) => d.pubkey_hex === k1.pubkeyHex)!;
    expect(d1).toMatchObject({ receipts: 3, verified_ops: String(3 * ops), quarantined_until: null, first_seen: agg.clock.now });
    expect(d1.ops_per_second).toBeCloseTo((3 * ops) / 60, 6);
    const only2 = (await (await fetch(`${agg.url}/devices?key=${k2.pubkeyHex}`)).json()) as { devices: { pubkey_hex: string }[] };
    expect(only2.devices.map((d) => d.pubkey_hex)).toEqual([k2.pubkeyHex]);

    const first = (await (await fetch(`${agg.url}/receipts?limit=2`)).json()) as { receipts: { seq: number }[]; next_cursor: string | null };
    expect(first.receipts.map((r) => r.seq)).toEqual([1, 2]);
    const second = (await (await fetch(`${agg.url}/receipts?limit=2&cursor=${encodeURIComponent(first.next_cursor!)}`)).json()) as { receipts: { seq: number }[]; next_cursor: string | null };
    expect(second.receipts.map((r) => r.seq)).toEqual([3, 4]);
    const byKey = (await (await fetch(`${agg.url}/receipts?key=${k2.pubkeyHex}`)).json()) as { receipts: { receipt: { pubkey_hex: string } }[] };
    expect(byKey.receipts.map((r) => r.receipt.pubkey_hex)).toEqual([k2.pubkeyHex]);
    const later = (await (await fetch(`${agg.url}/receipts?since=${agg.clock.now + 1}`)).json()) as { receipts: unknown[] };
    expect(later.receipts).toEqual([]);
  });

  it("bad parameters are a 400 BAD_QUERY naming the parameter, never a 5xx", async () => {
    const agg = await started({ AUDIT_RATE: "0" });
    for (const [path, parameter] of [
      ["/receipts?limit=0", "limit"], ["/receipts?limit=1001", "limit"], ["/receipts?limit=abc", "limit"], ["/receipts?since=-1", "since"],
      ["/receipts?key=zz", "key"], ["/receipts?cursor=%00garbage", "cursor"], ["/receipts?limit=1&limit=2", "limit"], ["/receipts?lmit=5", "lmit"],
      ["/devices?window_s=0", "window_s"], ["/devices?window_s=999999999999", "window_s"], ["/devices?limit=100000", "limit"], ["/devices?x=1", "x"],
    ] as const) {
      const res = await fetch(`${agg.url}${path}`);
      const body = (await res.json()) as { error?: { code: string; field?: string } };
      expect([path, res.status, body.error?.code, body.error?.field]).toEqual([path, 400, "BAD_QUERY", parameter]);
    }
  });
});

describe("soundness, measured", () => {
  // A worker that computed only a fraction f of its R rows passes an audit of s distinct rows with
  // probability C(fR, s) / C(R, s) (≤ f^s). Measured over many receipts through real /verify and
  // /audit calls; the cheater's rows are chosen with a fixed-seed generator, the aggregator's with
  // a fixed epoch secret, so the run is reproducible. Bound: 5 standard deviations.
  const R = 100;
  const s = 16;
  const sizes: Sizes = { m: R, n: 4, k: 4, batch: 1 };
  const choose = (n: number, k: number): number => {
    let r = 1;
    for (let i = 0; i < k; i++) r = (r * (n - i)) / (k - i);
    return r;
  };

  function seeded(seed: number): () => number {
    let x = seed >>> 0;
    return () => {
      x = (x + 0x6d2b79f5) >>> 0;
      let t = x;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
    };
  }

  for (const f of [0.5, 0.9]) {
    it(`f = ${f}: caught at a rate consistent with 1 − C(fR, s)/C(R, s) (≈ 1 − f^${s})`, async () => {
      const { dataDir, env: storeEnv } = await freshStoreEnv();
      writeFileSync(join(dataDir, EPOCH_SECRET_FILE), `${"5a".repeat(32)}\n`, { mode: 0o600 });
      // Fixed secret, key and time: the whole run is the same every time.
      const agg = await started({ AUDIT_RATE: "1", AUDIT_ROWS: String(s), QUARANTINE_SECONDS: "0" }, { dataDir, storeEnv, clock: new TestClock(60, 1_767_225_600_000) });
      const sk = new Uint8Array(32).fill(f === 0.5 ? 0x21 : 0x22);
      const key = { sk, pubkeyHex: publicKeyHex(sk) };
      const ch = await getChallenge(agg.url);
      const random = seeded(f === 0.5 ? 1 : 2);
      const N = 300;
      let caught = 0;
      for (let nonce = 1; nonce <= N; nonce++) {
        // Exactly f·R honest rows, the others faked, positions drawn by the cheater.
        const rows = Array.from({ length: R }, (_, i) => i);
        for (let i = R - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [rows[i], rows[j]] = [rows[j]!, rows[i]!];
        }
        const faked = new Set(rows.slice(Math.round(f * R)));
        const a = await submit(agg.url, work(key, ch, nonce, sizes, (r) => faked.has(r)));
        if (codeOf(a) === "WORK_ROOT_MISMATCH") caught++;
        else expect(codeOf(a)).toBe("OK");
      }
      const pass = choose(Math.round(f * R), s) / choose(R, s);
      expect(pass).toBeLessThanOrEqual(f ** s);
      const expected = N * (1 - pass);
      const sd = Math.sqrt(N * pass * (1 - pass));
      console.log(`soundness (${TEST_STORE}): f = ${f}, caught ${caught} of ${N}; expected ${expected.toFixed(1)} ± ${sd.toFixed(1)} (pass probability ${pass.toPrecision(3)}, f^${s} = ${(f ** s).toPrecision(3)})`);
      expect(Math.abs(caught - expected)).toBeLessThanOrEqual(5 * sd + 1);
      if (f === 0.5) expect(caught).toBe(N); // pass ≈ 8·10⁻⁶ per receipt
    }, 120_000);
  }

  it("an audit's cost does not depend on m or batch", () => {
    const a = auditMacs({ m: 16, n: 256, k: 256, batch: 1 }, 16);
    expect(auditMacs({ m: 4096, n: 256, k: 256, batch: 16 }, 16)).toBe(a);
    expect(a).toBe(16 * (256 * 256 + 256 * 256));
  });

  it("the audit choice is exact at 0 and 1 and unpredictable in between (a fixed secret gives a fixed choice)", () => {
    const secret = new Uint8Array(32).fill(7);
    const receipt = work(newKey(), { epoch_id: 1, prev_hash_hex: bytesToHex(new Uint8Array(32)), expires_at: 0 }, 1, { m: 64, n: 4, k: 4, batch: 2 }).receipt;
    expect(new AuditPolicy(secret, { rate: 0, rows: 16, timeoutMs: 1 }).chosen(receipt)).toBe(false);
    expect(new AuditPolicy(secret, { rate: 1, rows: 16, timeoutMs: 1 }).chosen(receipt)).toBe(true);
    const p = new AuditPolicy(secret, { rate: 0.5, rows: 16, timeoutMs: 1 });
    expect(p.rowsFor(receipt)).toEqual(p.rowsFor(receipt));
    expect(new Set(p.rowsFor(receipt)).size).toBe(16);
    expect(p.rowsFor(receipt).every((r) => r >= 0 && r < 128)).toBe(true);
    expect(new AuditPolicy(new Uint8Array(32).fill(8), { rate: 0.5, rows: 16, timeoutMs: 1 }).rowsFor(receipt)).not.toEqual(p.rowsFor(receipt));
    // Fewer rows than AUDIT_ROWS: all of them, in order.
    const small = work(newKey(), { epoch_id: 1, prev_hash_hex: bytesToHex(new Uint8Array(32)), expires_at: 0 }, 1, { m: 5, n: 4, k: 4, batch: 1 }).receipt;
    expect(p.rowsFor(small)).toEqual([0, 1, 2, 3, 4]);
  });
});
