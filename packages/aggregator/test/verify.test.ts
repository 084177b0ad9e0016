/** POST /verify and /audit over real HTTP: honest receipts land in the ledger, every forgery is refused with its code. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import {
  bytesToHex, hexToBytes, receiptDigest, ReceiptErrorCode, serializeReceipt, signReceipt, type Receipt,
} from "@tops/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import {
  AggregatorErrorCode, computeAuditRows, ERROR_STATUS, RowCheckerBusyError, SECP256K1_N, type RowChecker,
} from "../src/index";
import {
  codeOf, freshStoreEnv, getChallenge, honestBody, honestReceipt, LogCapture, newKey, postVerify, SMALL, startedForThisFile, storedReceipts, submit, work, type TestAggregator,
} from "./support";

/** Aggregators of this file, all closed after its last test. */
const started = startedForThisFile();

/** The ledger as GET /receipts shows it. */
const ledgerLines = (agg: TestAggregator): Promise<{ seq: number; audited: boolean; receipt: Receipt }[]> => storedReceipts(agg.url);

/** The receipt with pubkey_hex replaced by the second key recovered from its signature (ECDSA key recovery). */
function twinOf(r: Receipt): Receipt {
  const sig = secp256k1.Signature.fromBytes(hexToBytes(r.sig_hex), "compact");
  const digest = receiptDigest(r);
  for (const bit of [0, 1]) {
    const candidate = bytesToHex(sig.addRecoveryBit(bit).recoverPublicKey(digest).toBytes(true));
    if (candidate !== r.pubkey_hex) return { ...r, pubkey_hex: candidate };
  }
  throw new Error("no twin key");
}

describe("accepting honest receipts", () => {
  const key = newKey();
  let agg: TestAggregator;
  beforeAll(async () => {
    agg = await started({ ALLOWED_KEYS: key.pubkeyHex, AUDIT_RATE: "1" });
  });

  it("audits a correctly signed receipt (16³: 202, all 16 rows opened), then accepts and stores it", async () => {
    const ch = await getChallenge(agg.url);
    const r = honestReceipt(key, ch, 1);
    const a = await submit(agg.url, r);
    expect(a.first.status).toBe(202);
    expect(a.first.body.accepted).toBe(false);
    expect([...a.first.body.audit!.rows].sort((x, y) => x - y)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(a.first.body.audit!.expires_at).toBe(agg.clock.now + 30_000);
    expect(a.status).toBe(200);
    expect(a.body).toEqual({ accepted: true, audited: true, seq: 1, epoch_id: ch.epoch_id, nonce: 1 });
    const lines = (await ledgerLines(agg));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.seq).toBe(1);
    expect(lines[0]!.audited).toBe(true);
    expect(serializeReceipt(lines[0]!.receipt)).toBe(serializeReceipt(r));
  });

  it("accepts 32³ and batch 2 as well", async () => {
    const ch = await getChallenge(agg.url);
    const big = await submit(agg.url, honestReceipt(key, ch, 2, { m: 32, n: 32, k: 32, batch: 1 }));
    expect(big.status).toBe(200);
    expect(new Set(big.first.body.audit!.rows).size).toBe(16);
    expect((await submit(agg.url, honestReceipt(key, ch, 3, { m: 8, n: 24, k: 40, batch: 2 }))).status).toBe(200);
    expect((await ledgerLines(agg)).map((l) => l.receipt.nonce)).toEqual([1, 2, 3]);
  });

  it("accepts `application/json; charset=utf-8`", async () => {
    const ch = await getChallenge(agg.url);
    expect((await postVerify(agg.url, honestReceipt(key, ch, 4), "application/json; charset=UTF-8")).status).toBe(202);
  });

  it("accepts the previous epoch's challenge, not the one before", async () => {
    const ch = await getChallenge(agg.url);
    agg.clock.advance(60_000);
    expect((await getChallenge(agg.url)).epoch_id).toBe(ch.epoch_id + 1);
    expect(codeOf(await submit(agg.url, honestReceipt(key, ch, 10)))).toBe("OK");
    agg.clock.advance(60_000);
    const stale = await submit(agg.url, honestReceipt(key, ch, 11));
    expect(stale.status).toBe(422);
    expect(codeOf(stale)).toBe("STALE_EPOCH");
    expect(stale.body.error?.field).toBe("epoch_id");
  });

  it("serves the challenge with expires_at at the end of the epoch", async () => {
    const ch = await getChallenge(agg.url);
    expect(ch.expires_at).toBe((ch.epoch_id + 1) * 60_000);
    expect(ch.expires_at).toBeGreaterThan(agg.clock.now);
    expect(ch.prev_hash_hex).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("refusing forgeries", () => {
  const key = newKey();
  let agg: TestAggregator;
  let nonce = 100;
  beforeAll(async () => {
    agg = await started({ ALLOWED_KEYS: key.pubkeyHex, AUDIT_RATE: "1", MAX_DIM: "64", MAX_BATCH: "2" });
  });
  const fresh = async (): Promise<Receipt> => honestReceipt(key, await getChallenge(agg.url), nonce++);

  it("a tampered field (signature no longer matches) → 401 BAD_SIGNATURE", async () => {
    const a = await postVerify(agg.url, { ...(await fresh()), driver_hint: "forged" });
    expect([a.status, codeOf(a), a.body.error?.field]).toEqual([401, "BAD_SIGNATURE", "sig_hex"]);
  });

  it("a corrupted signature → 401 BAD_SIGNATURE", async () => {
    const r = await fresh();
    const sig = hexToBytes(r.sig_hex);
    sig[40]! ^= 0x01;
    const a = await postVerify(agg.url, { ...r, sig_hex: bytesToHex(sig) });
    expect([a.status, codeOf(a)]).toEqual([401, "BAD_SIGNATURE"]);
  });

  it("the high-S twin of a valid signature → 401 BAD_SIGNATURE", async () => {
    const r = await fresh();
    const s = BigInt(`0x${r.sig_hex.slice(64)}`);
    const highS = r.sig_hex.slice(0, 64) + (SECP256K1_N - s).toString(16).padStart(64, "0");
    const a = await postVerify(agg.url, { ...r, sig_hex: highS });
    expect([a.status, codeOf(a)]).toEqual([401, "BAD_SIGNATURE"]);
    expect(a.body.error?.message).toMatch(/high S/);
  });

  it("an unknown key → 403 KEY_NOT_ALLOWED", async () => {
    const a = await postVerify(agg.url, honestReceipt(newKey(), await getChallenge(agg.url), 1));
    expect([a.status, codeOf(a), a.body.error?.field]).toEqual([403, "KEY_NOT_ALLOWED", "pubkey_hex"]);
  });

  it("the same receipt again is answered as the first time (200 with its seq, duplicate); the same nonce re-signed → 409 REPLAY", async () => {
    const r = await fresh();
    const first = await submit(agg.url, r);
    expect(first.status).toBe(200);
    const again = await postVerify(agg.url, r);
    expect([again.status, again.body.seq, again.body.duplicate, again.body.audited]).toEqual([200, first.body.seq, true, true]);
    const resigned = signReceipt({ ...honestBody(key, await getChallenge(agg.url), r.nonce), prev_hash_hex: r.prev_hash_hex, epoch_id: r.epoch_id, time_ms: r.time_ms + 1 }, key.sk);
    const a = await postVerify(agg.url, resigned);
    expect([a.status, codeOf(a), a.body.error?.field]).toEqual([409, "REPLAY", "nonce"]);
  });

  it("while its audit is open the same receipt gets the same 202; another receipt for that nonce → REPLAY", async () => {
    const r = await fresh();
    const first = await postVerify(agg.url, r);
    const second = await postVerify(agg.url, r);
    expect(first.status).toBe(202);
    expect(second.body.audit).toEqual(first.body.audit);
    const other = signReceipt({ ...honestBody(key, await getChallenge(agg.url), r.nonce), time_ms: 99 }, key.sk);
    expect(codeOf(await postVerify(agg.url, other))).toBe("REPLAY");
    expect(codeOf(await submit(agg.url, r))).toBe("OK");
  });

  it("a future or stale epoch → 422 STALE_EPOCH; a wrong prev_hash → 422 PREV_HASH_MISMATCH", async () => {
    const ch = await getChallenge(agg.url);
    const future = signReceipt({ ...honestBody(key, ch, nonce++), epoch_id: ch.epoch_id + 1 }, key.sk);
    expect(codeOf(await postVerify(agg.url, future))).toBe("STALE_EPOCH");
    const old = signReceipt({ ...honestBody(key, ch, nonce++), epoch_id: ch.epoch_id - 5 }, key.sk);
    expect(codeOf(await postVerify(agg.url, old))).toBe("STALE_EPOCH");
    const wrongHash = honestReceipt(key, { ...ch, prev_hash_hex: "ab".repeat(32) }, nonce++);
    const a = await postVerify(agg.url, wrongHash);
    expect([a.status, codeOf(a), a.body.error?.field]).toEqual([422, "PREV_HASH_MISMATCH", "prev_hash_hex"]);
  });

  it("sizes over this aggregator's bounds → 422 SIZES_NOT_ACCEPTED (before any audit work)", async () => {
    const ch = await getChallenge(agg.url);
    const big = signReceipt({ ...honestBody(key, ch, nonce++), sizes: { m: 16, n: 65, k: 16, batch: 1 } }, key.sk);
    const a = await postVerify(agg.url, big);
    expect([a.status, codeOf(a), a.body.error?.field]).toEqual([422, "SIZES_NOT_ACCEPTED", "sizes.n"]);
    const batch = signReceipt({ ...honestBody(key, ch, nonce++), sizes: { ...SMALL, batch: 3 } }, key.sk);
    expect(codeOf(await postVerify(agg.url, batch))).toBe("SIZES_NOT_ACCEPTED");
  });

  it("a work_root committing to wrong rows is caught by the audit (422 WORK_ROOT_MISMATCH), then the key is quarantined (403 KEY_QUARANTINED) until QUARANTINE_SECONDS pass", async () => {
    const ch = await getChallenge(agg.url);
    const forged = work(key, ch, nonce++, SMALL, () => true);
    const a = await submit(agg.url, forged);
    expect([a.status, codeOf(a), a.body.error?.field]).toEqual([422, "WORK_ROOT_MISMATCH", "work_root_hex"]);
    const next = await submit(agg.url, await fresh());
    expect([next.status, codeOf(next)]).toEqual([403, "KEY_QUARANTINED"]);
    const { devices } = (await (await fetch(`${agg.url}/devices`)).json()) as { devices: { pubkey_hex: string; quarantined_until: number | null }[] };
    expect(devices.find((d) => d.pubkey_hex === key.pubkeyHex)?.quarantined_until).toBe(agg.clock.now + 3600_000);
    // The same receipt again gets the same refusal, not a second chance.
    expect(codeOf(await postVerify(agg.url, forged.receipt))).toBe("WORK_ROOT_MISMATCH");
    agg.clock.advance(3600_000);
    expect(codeOf(await submit(agg.url, await fresh()))).toBe("OK");
    expect((await ledgerLines(agg)).some((l) => l.receipt.work_root_hex === forged.receipt.work_root_hex)).toBe(false);
  });

  it("a work_root the worker cannot open (paths do not lead to it) → 422 OPENING_MISMATCH, key quarantined", async () => {
    const ch = await getChallenge(agg.url);
    const forged = signReceipt({ ...honestBody(key, ch, nonce++), work_root_hex: "00".repeat(32) }, key.sk);
    const a = await submit(agg.url, forged);
    expect([a.status, codeOf(a)]).toEqual([422, "OPENING_MISMATCH"]);
    expect(codeOf(await submit(agg.url, await fresh()))).toBe("KEY_QUARANTINED");
    agg.clock.advance(3600_000);
  });

  it("counts every outcome by code on /metrics, and audits by result", async () => {
    const text = await (await fetch(`${agg.url}/metrics`)).text();
    expect(text).toMatch(/tops_aggregator_receipts_total\{outcome="accepted",code="OK"\} [1-9]/);
    expect(text).toMatch(/tops_aggregator_receipts_total\{outcome="rejected",code="REPLAY"\} 2/);
    expect(text).toMatch(/tops_aggregator_audits_total\{result="bad_opening"\} 1/);
    expect(text).toMatch(/tops_aggregator_receipts_total\{outcome="rejected",code="KEY_NOT_ALLOWED"\} 1/);
    expect(text).toMatch(/tops_aggregator_audits_total\{result="mismatch"\} 1/);
    expect(text).toMatch(/tops_aggregator_audits_total\{result="match"\} [1-9]/);
    expect(text).toMatch(/tops_aggregator_verify_duration_ms_count [1-9]/);
  });
});

describe("work and signatures are bound to the signer's key", () => {
  const key = newKey();
  for (const mode of ["dev mode (any key)", "allow list with both keys"] as const) {
    it(`${mode}: the recovered twin key's receipt is a bad signature, before or after the original`, async () => {
      const other = newKey();
      const agg = await started({ AUDIT_RATE: "1", ...(mode === "dev mode (any key)" ? {} : { ALLOWED_KEYS: `${key.pubkeyHex},${other.pubkeyHex}` }) });
      const r = honestReceipt(key, await getChallenge(agg.url), 7);
      const twin = twinOf(r);
      expect(twin.pubkey_hex).not.toBe(r.pubkey_hex);
      const before = await postVerify(agg.url, twin);
      expect([before.status, codeOf(before)]).toEqual([401, "BAD_SIGNATURE"]);
      expect(codeOf(await submit(agg.url, r))).toBe("OK");
      expect(codeOf(await postVerify(agg.url, twin))).toBe("BAD_SIGNATURE");
    });
  }

  it("the same body signed by a second allowed key is different work: refused by the audit, never credited twice", async () => {
    const other = newKey();
    const agg = await started({ AUDIT_RATE: "1", ALLOWED_KEYS: `${key.pubkeyHex},${other.pubkeyHex}`, QUARANTINE_SECONDS: "0" });
    const ch = await getChallenge(agg.url);
    const honest = work(key, ch, 9);
    expect(codeOf(await submit(agg.url, honest))).toBe("OK");
    const { sig_hex: _s, pubkey_hex: _p, protocol_version: _v, ...body } = honest.receipt;
    // The claimant re-signs the body and even answers the audit with the original worker's rows.
    const claimed = { ...honest, receipt: signReceipt(body, other.sk) };
    const a = await submit(agg.url, claimed);
    expect([a.first.status, a.status, codeOf(a)]).toEqual([202, 422, "WORK_ROOT_MISMATCH"]);
    expect((await ledgerLines(agg)).map((l) => l.receipt.pubkey_hex)).toEqual([key.pubkeyHex]);
  });
});

describe("every protocol parse error is a 400 with its code", () => {
  const key = newKey();
  let agg: TestAggregator;
  let base: Record<string, unknown>;
  let json: string;
  beforeAll(async () => {
    agg = await started({ AUDIT_RATE: "0" });
    const r = honestReceipt(key, await getChallenge(agg.url), 1);
    json = serializeReceipt(r);
    base = JSON.parse(json) as Record<string, unknown>;
  });
  const patched = (patch: Record<string, unknown>): string => JSON.stringify({ ...base, ...patch });
  const cases: Record<Exclude<ReceiptErrorCode, "BAD_SIGNATURE">, () => string> = {
    RECEIPT_TOO_LARGE: () => json + " ".repeat(5000),
    INVALID_JSON: () => json.slice(0, -1),
    NOT_AN_OBJECT: () => "[1,2,3]",
    DUPLICATE_FIELD: () => `{"nonce":1,${json.slice(1)}`,
    NOT_AN_INTEGER: () => json.replace(/"nonce":(\d+)/, '"nonce":$1.0'),
    UNKNOWN_VERSION: () => patched({ protocol_version: 1 }),
    FIELD_ORDER: () => JSON.stringify({ nonce: base.nonce, ...base }).replace(/,"nonce":\d+/, ""),
    UNKNOWN_FIELD: () => patched({ extra: true }),
    MISSING_FIELD: () => JSON.stringify({ ...base, nonce: undefined }),
    WRONG_TYPE: () => patched({ nonce: "1" }),
    INTEGER_OUT_OF_RANGE: () => patched({ time_ms: -1 }),
    BAD_HEX: () => patched({ prev_hash_hex: (base.prev_hash_hex as string).toUpperCase() }),
    BAD_STRING: () => patched({ device_did: "" }),
    SIZES_OUT_OF_BOUNDS: () => patched({ sizes: { m: 0, n: 16, k: 16, batch: 1 } }),
    BAD_PUBKEY: () => patched({ pubkey_hex: `02${"ff".repeat(32)}` }),
  };

  it("covers every ReceiptErrorCode", () => {
    expect(new Set([...Object.keys(cases), "BAD_SIGNATURE"])).toEqual(new Set(Object.values(ReceiptErrorCode)));
  });

  for (const [code, body] of Object.entries(cases)) {
    it(code, async () => {
      const a = await postVerify(agg.url, body());
      expect([a.status, codeOf(a)]).toEqual([400, code]);
      expect(a.body.error?.message).toBeTruthy();
    });
  }

  it("invalid UTF-8 → 400 INVALID_JSON", async () => {
    const bytes = new TextEncoder().encode(json.replace("did:test", "did:t\u00e9st"));
    const at = bytes.indexOf(0xc3);
    bytes[at] = 0xff;
    expect(codeOf(await postVerify(agg.url, bytes))).toBe("INVALID_JSON");
  });
});

describe("HTTP surface", () => {
  let agg: TestAggregator;
  const logs = new LogCapture();
  const secret = "c3".repeat(32);
  beforeAll(async () => {
    const store = await freshStoreEnv();
    // A known epoch secret (imported from the file at start), to check that it is never logged.
    writeFileSync(join(store.dataDir, "epoch-secret"), `${secret}\n`, { mode: 0o600 });
    agg = await started({ MAX_BODY_BYTES: "8192" }, { logger: logs.logger, dataDir: store.dataDir, storeEnv: store.env });
  });

  it("415 for a wrong or missing content type, or a content encoding", async () => {
    for (const ct of ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", "application/jsonx"]) {
      const a = await postVerify(agg.url, "{}", ct);
      expect([a.status, codeOf(a)]).toEqual([415, "UNSUPPORTED_MEDIA_TYPE"]);
    }
    const none = await fetch(`${agg.url}/verify`, { method: "POST", body: new Uint8Array([123, 125]) });
    expect(none.status).toBe(415);
    const gz = await fetch(`${agg.url}/verify`, { method: "POST", headers: { "content-type": "application/json", "content-encoding": "gzip" }, body: "{}" });
    expect(gz.status).toBe(415);
  });

  it("413 for a body over MAX_BODY_BYTES, declared or streamed", async () => {
    const a = await postVerify(agg.url, "x".repeat(8193));
    expect([a.status, codeOf(a)]).toEqual([413, "BODY_TOO_LARGE"]);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 20; i++) c.enqueue(new Uint8Array(1024).fill(32));
        c.close();
      },
    });
    const res = await fetch(`${agg.url}/verify`, { method: "POST", headers: { "content-type": "application/json" }, body: stream, duplex: "half" } as RequestInit);
    expect(res.status).toBe(413);
  });

  it("404 for unknown paths, 405 (with Allow) for wrong methods", async () => {
    const nf = await fetch(`${agg.url}/nope`);
    expect(nf.status).toBe(404);
    expect(((await nf.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
    const get = await fetch(`${agg.url}/verify`);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    const post = await fetch(`${agg.url}/challenge`, { method: "POST", body: "{}" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    expect((await fetch(`${agg.url}/challenge?x=1`)).status).toBe(200);
    expect((await fetch(`${agg.url}/healthz`, { method: "HEAD" })).status).toBe(200);
  });

  it("/healthz answers 200 JSON", async () => {
    const res = await fetch(`${agg.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok", allowed_keys: "any", ledger_entries: 0 });
  });

  it("logs one JSON line per verify and warns once about dev mode; the epoch secret never appears", async () => {
    const before = logs.lines.filter((l) => l.event === "verify").length;
    await postVerify(agg.url, "{}");
    await postVerify(agg.url, "{}", "text/plain");
    expect(logs.lines.filter((l) => l.event === "verify").length).toBe(before + 2);
    expect(logs.lines.filter((l) => l.event === "dev_mode")).toHaveLength(1);
    expect(logs.lines.find((l) => l.event === "dev_mode")?.level).toBe(40);
    expect(logs.lines.some((l) => l.event === "ledger_imported" && l.epochSecret === true)).toBe(true);
    expect(logs.raw.join("\n")).not.toContain(secret);
  });
});

describe("concurrency", () => {
  it("of 25 concurrent copies of one receipt exactly one is stored, none is refused; 40 distinct ones all land intact", async () => {
    const key = newKey();
    const agg = await started({ AUDIT_RATE: "0" });
    const ch = await getChallenge(agg.url);
    const r = honestReceipt(key, ch, 1);
    const answers = await Promise.all(Array.from({ length: 25 }, () => postVerify(agg.url, r)));
    expect(answers.filter((a) => a.status === 200 && !a.body.duplicate)).toHaveLength(1);
    // The others were answered while it was being written (503 IN_PROGRESS: retry) or after (200 duplicate, same seq).
    for (const a of answers) expect(a.status === 200 ? a.body.seq : codeOf(a)).toBe(a.status === 200 ? 1 : "IN_PROGRESS");

    const audited = await started({ AUDIT_RATE: "1" });
    const one = honestReceipt(key, await getChallenge(audited.url), 1);
    const audits = await Promise.all(Array.from({ length: 10 }, () => submit(audited.url, one)));
    const finals = audits.map((a) => (a.status === 200 ? `200 seq ${a.body.seq}` : codeOf(a)));
    expect(finals.filter((f) => f === "200 seq 1").length).toBeGreaterThanOrEqual(1);
    expect(finals.every((f) => f === "200 seq 1" || f === "IN_PROGRESS")).toBe(true);

    const many = Array.from({ length: 40 }, (_, i) => honestReceipt(key, ch, 100 + i));
    const results = await Promise.all(many.map((m) => postVerify(agg.url, m)));
    expect(results.every((a) => a.status === 200)).toBe(true);
    const lines = (await ledgerLines(agg));
    expect(lines).toHaveLength(41);
    expect(lines.map((l) => l.seq)).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
    expect(new Set(lines.map((l) => l.receipt.nonce)).size).toBe(41);
  });
});

describe("sampled audits", () => {
  // The choice is exact for every rate (the old randomInt(2^48) choice answered 500 for any fraction).
  for (const rate of ["0", "1e-9", "0.05", "0.5", "0.999", "1"]) {
    it(`AUDIT_RATE=${rate}: every answer is 200 or 202, the share of 202s is consistent with the rate`, async () => {
      const key = newKey();
      const agg = await started({ AUDIT_RATE: rate });
      const ch = await getChallenge(agg.url);
      const N = 200;
      const answers = await Promise.all(Array.from({ length: N }, (_, i) => postVerify(agg.url, honestReceipt(key, ch, i + 1))));
      expect(answers.filter((a) => a.status !== 200 && a.status !== 202)).toEqual([]);
      const audited = answers.filter((a) => a.status === 202).length;
      const p = Number(rate);
      const sd = Math.sqrt(N * p * (1 - p));
      expect(Math.abs(audited - N * p)).toBeLessThanOrEqual(5 * sd + 1e-9);
    }, 30_000);
  }

  it("AUDIT_RATE=0 audits nothing: a forged work_root is accepted, marked audited: false", async () => {
    const key = newKey();
    const agg = await started({ AUDIT_RATE: "0" });
    const forged = signReceipt({ ...honestBody(key, await getChallenge(agg.url), 1), work_root_hex: "11".repeat(32) }, key.sk);
    const a = await postVerify(agg.url, forged);
    expect(a.body).toMatchObject({ accepted: true, audited: false });
  });

  for (const kernel of ["onnxruntime", "reference"] as const) {
    it(`AUDIT_KERNEL=${kernel} on the main thread gives the same verdicts, and says which kernel runs`, async () => {
      const agg = await started({ AUDIT_RATE: "1", AUDIT_KERNEL: kernel });
      const ch = await getChallenge(agg.url);
      expect(codeOf(await submit(agg.url, work(newKey(), ch, 1, { m: 40, n: 24, k: 40, batch: 1 })))).toBe("OK");
      expect(codeOf(await submit(agg.url, work(newKey(), ch, 2, { m: 40, n: 24, k: 40, batch: 1 }, (r) => r % 2 === 0)))).toBe("WORK_ROOT_MISMATCH");
      const health = (await (await fetch(`${agg.url}/healthz`)).json()) as { auditor: string };
      expect(health.auditor).toMatch(kernel === "onnxruntime" ? /^onnxruntime/ : /^ts-reference/);
    });
  }

  it("the worker-thread row checker gives the same verdicts", async () => {
    const key = newKey();
    const cheat = newKey();
    const agg = await started({ AUDIT_RATE: "1", AUDIT_THREADS: "2" });
    const ch = await getChallenge(agg.url);
    const [ok, bad] = await Promise.all([
      submit(agg.url, work(key, ch, 1, { m: 32, n: 32, k: 32, batch: 1 })),
      submit(agg.url, work(cheat, ch, 2, SMALL, (row) => row === 3)),
    ]);
    expect(codeOf(ok)).toBe("OK");
    expect(ok.body.audited).toBe(true);
    expect(codeOf(bad)).toBe("WORK_ROOT_MISMATCH");
  });
});

describe("the aggregator's own trouble is a retryable 503, and costs the receipt nothing", () => {
  it("a row checker that fails or is full answers 503 (UNAVAILABLE / OVERLOADED with Retry-After); the same openings are accepted later", async () => {
    const failures: Error[] = [new Error("thread died"), new RowCheckerBusyError("9 audits are already waiting")];
    const flaky: RowChecker = {
      name: "flaky",
      queued: 0,
      rows: async (job) => {
        const failure = failures.shift();
        if (failure) throw failure;
        return computeAuditRows(job);
      },
      close: async () => {},
    };
    const key = newKey();
    const agg = await started({ AUDIT_RATE: "1" }, { checker: flaky });
    const r = honestReceipt(key, await getChallenge(agg.url), 1);
    const first = await submit(agg.url, r);
    expect([first.status, codeOf(first), first.headers.get("retry-after")]).toEqual([503, "UNAVAILABLE", "5"]);
    const second = await submit(agg.url, r);
    expect([second.status, codeOf(second), second.headers.get("retry-after")]).toEqual([503, "OVERLOADED", "1"]);
    expect(codeOf(await submit(agg.url, r))).toBe("OK");
    const text = await (await fetch(`${agg.url}/metrics`)).text();
    expect(text).toMatch(/tops_aggregator_audits_total\{result="error"\} 1/);
  });
});

describe("error codes", () => {
  it("every aggregator code has a status, 5xx only for the aggregator's own trouble", () => {
    for (const code of Object.values(AggregatorErrorCode)) expect(ERROR_STATUS[code]).toBeGreaterThanOrEqual(400);
    const fiveHundreds = Object.entries(ERROR_STATUS).filter(([, s]) => s >= 500).map(([c]) => c).sort();
    expect(fiveHundreds).toEqual(["INTERNAL_ERROR", "IN_PROGRESS", "OVERLOADED", "UNAVAILABLE"]);
  });
});
