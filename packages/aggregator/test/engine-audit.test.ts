/**
 * AUDIT_BACKEND=engine: audits recomputed by the worker's WebGPU engine (here Dawn's GL backend
 * on llvmpipe) reach the same verdicts as the reference: honest receipts pass, a forged work_root
 * is caught and its key quarantined.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytesToHex, signReceipt, type Sizes } from "@tops/protocol";
import { createEngine } from "@tops/worker/engine";
import { configFromEnv, engineAuditor } from "../src/index";
import { codeOf, getChallenge, honestBody, honestReceipt, newKey, postVerify, startTestAggregator, type TestAggregator } from "./support";

const sizes: Sizes = { m: 24, n: 40, k: 36, batch: 1 };
let agg: TestAggregator;

beforeAll(async () => {
  const engine = await createEngine({ backend: "gl" });
  agg = await startTestAggregator({ AUDIT_RATE: "1" }, { auditor: engineAuditor(engine, "engine (gl)") });
}, 60_000);
afterAll(async () => {
  await agg?.close();
});

describe("engine auditor", () => {
  it("is chosen with AUDIT_BACKEND=engine", () => {
    expect(configFromEnv({ AUDIT_BACKEND: "engine" }).auditBackend).toBe("engine");
    expect(configFromEnv({}).auditBackend).toBe("reference");
    expect(() => configFromEnv({ AUDIT_BACKEND: "gpu" })).toThrow(/^AUDIT_BACKEND: must be one of reference, engine/);
  });

  it("accepts honest receipts, rejects a forged work_root and quarantines the key", async () => {
    const key = newKey();
    const ch = await getChallenge(agg.url);
    const ok = await Promise.all([1, 2, 3].map((nonce) => postVerify(agg.url, honestReceipt(key, ch, nonce, sizes))));
    expect(ok.map((a) => [a.status, a.body.audited])).toEqual([[200, true], [200, true], [200, true]]);
    const forged = signReceipt({ ...honestBody(ch, 4, sizes), work_root_hex: bytesToHex(randomBytes(32)) }, key.sk);
    const refused = await postVerify(agg.url, forged);
    expect([refused.status, codeOf(refused)]).toEqual([422, "WORK_ROOT_MISMATCH"]);
    expect(codeOf(await postVerify(agg.url, honestReceipt(key, ch, 5, sizes)))).toBe("KEY_QUARANTINED");
  });
});
