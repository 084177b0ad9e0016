/** Auditors recompute work_root exactly as the protocol reference and its test vectors say. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { bytesToHex, deriveSeed, hexToBytes, referenceWorkRoot, type Sizes } from "@tops/protocol";
import { describe, expect, it } from "vitest";
import { AuditorBusyError, createReferenceAuditor, engineAuditor, referenceAuditWorkRoot, ThreadPoolAuditor, type AuditAttempt } from "../src/index";

interface VectorAttempt {
  readonly name: string;
  readonly prev_hash_hex: string;
  readonly device_did: string;
  readonly nonce: string | number;
  readonly sizes: Sizes;
  readonly work_root_hex: string;
}

const vectorsPath = fileURLToPath(new URL("../../protocol/vectors/vectors.json", import.meta.url));
const vectors = (JSON.parse(readFileSync(vectorsPath, "utf8")) as { attempts: VectorAttempt[] }).attempts;
const attemptOf = (v: VectorAttempt): AuditAttempt => ({ prevHash: hexToBytes(v.prev_hash_hex), deviceDid: v.device_did, nonce: Number(v.nonce), sizes: v.sizes });

describe("referenceAuditWorkRoot (streamed, constant memory)", () => {
  it("reproduces every protocol test vector", () => {
    expect(vectors.length).toBeGreaterThanOrEqual(6);
    for (const v of vectors) expect(bytesToHex(referenceAuditWorkRoot(attemptOf(v))), v.name).toBe(v.work_root_hex);
  });

  it("equals referenceWorkRoot when rows span several hash chunks", () => {
    const attempt: AuditAttempt = { prevHash: new Uint8Array(32).fill(3), deviceDid: "d", nonce: 9, sizes: { m: 700, n: 100, k: 8, batch: 2 } };
    expect(referenceAuditWorkRoot(attempt)).toEqual(referenceWorkRoot(deriveSeed(attempt), attempt.sizes));
  });
});

describe("auditors", () => {
  it("the in-process reference and an engine adapter give the vectors' work_roots", async () => {
    const v = vectors[0]!;
    expect(bytesToHex(await createReferenceAuditor().workRoot(attemptOf(v)))).toBe(v.work_root_hex);
    const engine = engineAuditor({ runAttempt: async ({ seed, sizes }) => ({ workRoot: referenceWorkRoot(seed, sizes) }) });
    expect(bytesToHex(await engine.workRoot(attemptOf(v)))).toBe(v.work_root_hex);
  });

  it("the thread pool computes the vectors in parallel, refuses past its queue bound and rejects pending audits on close", async () => {
    const pool = new ThreadPoolAuditor(2, 3);
    try {
      const roots = await Promise.all(vectors.slice(0, 4).map((v) => pool.workRoot(attemptOf(v))));
      expect(roots.map(bytesToHex)).toEqual(vectors.slice(0, 4).map((v) => v.work_root_hex));
      const big: AuditAttempt = { prevHash: new Uint8Array(32), deviceDid: "d", nonce: 1, sizes: { m: 512, n: 512, k: 512, batch: 1 } };
      // Two running, three queued: the queue is full.
      const pending = Promise.allSettled(Array.from({ length: 5 }, () => pool.workRoot(big)));
      await expect(pool.workRoot(big)).rejects.toBeInstanceOf(AuditorBusyError);
      await pool.close();
      const outcomes = await pending;
      expect(outcomes.map((o) => (o.status === "rejected" ? String(o.reason) : "resolved"))).toEqual(Array(5).fill("Error: auditor is closed"));
    } finally {
      await pool.close();
    }
  }, 20_000);
});
