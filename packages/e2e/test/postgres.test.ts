/**
 * Aggregators on a real PostgreSQL (DATABASE_URL), as real processes:
 *  - two aggregators on one database race N concurrent copies of one receipt: exactly one is
 *    stored, every other copy gets the idempotent answer (200 duplicate with the same seq, or
 *    503 IN_PROGRESS that a retry turns into it).
 * The aggregator killed mid-run on PostgreSQL: restart.test.ts (both engines).
 */
import { randomBytes } from "node:crypto";
import { secretKeyFromHex, serializeReceipt, signReceipt } from "@tops/protocol";
import { describe, expect, it } from "vitest";
import { fileResources, startAggregator, storedReceipts, tempDir } from "./harness";

const { unavailable, newDatabase, stopAfterAll } = fileResources();

async function post(url: string, body: string): Promise<{ status: number; seq?: number; duplicate?: boolean; code?: string }> {
  const res = await fetch(`${url}/verify`, { method: "POST", headers: { "content-type": "application/json" }, body });
  const json = (await res.json()) as { seq?: number; duplicate?: boolean; error?: { code: string } };
  return { status: res.status, ...(json.seq !== undefined ? { seq: json.seq } : {}), ...(json.duplicate ? { duplicate: true } : {}), ...(json.error ? { code: json.error.code } : {}) };
}

describe.skipIf(unavailable !== null)(`two aggregators on one PostgreSQL${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  it("N concurrent copies of one receipt spread over both: exactly one stored, the others answered idempotently", async () => {
    const databaseUrl = newDatabase();
    const env = { DATABASE_URL: databaseUrl, AUDIT_RATE: "0", EPOCH_SECONDS: "600" };
    const a = await startAggregator(env, tempDir("pg-a"));
    stopAfterAll(() => a.proc.stop());
    const b = await startAggregator(env, tempDir("pg-b"));
    stopAfterAll(() => b.proc.stop());
    const challenge = (await (await fetch(`${a.url}/challenge`)).json()) as { epoch_id: number; prev_hash_hex: string };
    // Both serve the same challenge: they share the epoch secret through the database.
    expect((await (await fetch(`${b.url}/challenge`)).json())).toEqual(challenge);

    const sk = secretKeyFromHex(randomBytes(32).toString("hex"));
    const body = serializeReceipt(signReceipt({
      device_did: "did:test:race", epoch_id: challenge.epoch_id, prev_hash_hex: challenge.prev_hash_hex, nonce: 1,
      work_root_hex: "ab".repeat(32), sizes: { m: 8, n: 8, k: 8, batch: 1 }, time_ms: 1, kernel_ver: "t", driver_hint: "t",
    }, sk));
    const N = 40;
    const answers = await Promise.all(Array.from({ length: N }, (_, i) => post(i % 2 === 0 ? a.url : b.url, body)));
    const stored = answers.filter((x) => x.status === 200 && !x.duplicate);
    expect(stored).toHaveLength(1);
    const seq = stored[0]!.seq;
    for (const x of answers) {
      if (x.status === 200) expect(x.seq).toBe(seq);
      else expect([x.status, x.code]).toEqual([503, "IN_PROGRESS"]);
    }
    // A retry of any copy, on either aggregator, is the same answer.
    expect(await post(b.url, body)).toMatchObject({ status: 200, seq, duplicate: true });
    expect(await post(a.url, body)).toMatchObject({ status: 200, seq, duplicate: true });
    expect((await storedReceipts(a.url)).length).toBe(1);
    expect((await storedReceipts(b.url)).length).toBe(1);
  });
});
