import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { deriveChallengeUrl } from "../../src/aggregator-client";
import { workerConfigFromEnv } from "../../src/config";

const SK = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

describe("worker config", () => {
  it("has the original's defaults", () => {
    const c = workerConfigFromEnv({ WORKER_SK_HEX: SK });
    expect(c.deviceDid).toBe("did:peaq:DEVICE123");
    expect(c.verifyUrl).toBe("http://localhost:8081/verify");
    expect(c.challengeUrl).toBe("http://localhost:8081/challenge");
    expect(c.maxRetries).toBe(3);
    expect(c.publicKeyHex).toMatch(/^0[23][0-9a-f]{64}$/);
  });

  it("accepts 0x and uppercase keys, and keys from a file", () => {
    const a = workerConfigFromEnv({ WORKER_SK_HEX: `0x${SK.toUpperCase()}` });
    const file = join(mkdtempSync(join(tmpdir(), "sk-")), "key");
    writeFileSync(file, `${SK}\n`);
    const b = workerConfigFromEnv({ WORKER_SK_FILE: file });
    expect(a.publicKeyHex).toBe(b.publicKeyHex);
  });

  const bad: [Record<string, string>, RegExp][] = [
    [{}, /^WORKER_SK_HEX: is required/],
    [{ WORKER_SK_HEX: "abc" }, /^WORKER_SK_HEX: must be 64 hex/],
    [{ WORKER_SK_HEX: "00".repeat(32) }, /^WORKER_SK_HEX: is not a valid/],
    [{ WORKER_SK_HEX: "ff".repeat(32) }, /^WORKER_SK_HEX: is not a valid/],
    [{ WORKER_SK_HEX: SK, WORKER_SK_FILE: "/x" }, /^WORKER_SK_FILE: set either/],
    [{ WORKER_SK_FILE: "/nonexistent/key" }, /^WORKER_SK_FILE: cannot read/],
    [{ WORKER_SK_HEX: SK, MAX_RETRIES: "three" }, /^MAX_RETRIES: must be an integer/],
    [{ WORKER_SK_HEX: SK, MAX_RETRIES: "-1" }, /^MAX_RETRIES: must be an integer in \[0, 100\]/],
    [{ WORKER_SK_HEX: SK, RATE_LIMIT: "fast" }, /^RATE_LIMIT: must be a number/],
    [{ WORKER_SK_HEX: SK, MAX_ATTEMPTS: "1.5" }, /^MAX_ATTEMPTS: must be an integer/],
    [{ WORKER_SK_HEX: SK, AGGREGATOR_URL: "not a url" }, /^AGGREGATOR_URL: must be an absolute/],
    [{ WORKER_SK_HEX: SK, AGGREGATOR_URL: "ftp://x/verify" }, /^AGGREGATOR_URL: must be an http/],
    [{ WORKER_SK_HEX: SK, DEVICE_DID: "a\u0001b" }, /^DEVICE_DID:/],
  ];
  for (const [env, message] of bad) {
    it(`refuses ${JSON.stringify(env).slice(0, 60)}`, () => {
      expect(() => workerConfigFromEnv(env)).toThrow(message);
    });
  }

  it("never shows the secret key in an error", () => {
    const nearly = SK.slice(0, 63) + "g";
    try {
      workerConfigFromEnv({ WORKER_SK_HEX: nearly });
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).not.toContain(SK.slice(0, 16));
    }
  });

  it("never shows a password from AGGREGATOR_URL in an error", () => {
    for (const url of ["ftp://admin:hunter2@x/verify", "http://admin:hunter2@ bad/verify"]) {
      try {
        workerConfigFromEnv({ WORKER_SK_HEX: SK, AGGREGATOR_URL: url });
        expect.unreachable();
      } catch (e) {
        expect((e as Error).message).toMatch(/^AGGREGATOR_URL: /);
        expect((e as Error).message).not.toContain("hunter2");
      }
    }
  });

  it("EPOCH_ID and PREV_HASH_HEX default to the Rust original's static challenge and are checked", () => {
    expect(workerConfigFromEnv({ WORKER_SK_HEX: SK }).staticChallenge).toEqual({ epochId: 1, prevHashHex: "a".repeat(64) });
    expect(workerConfigFromEnv({ WORKER_SK_HEX: SK, EPOCH_ID: "7", PREV_HASH_HEX: "AB".repeat(32) }).staticChallenge).toEqual({ epochId: 7, prevHashHex: "ab".repeat(32) });
    expect(() => workerConfigFromEnv({ WORKER_SK_HEX: SK, PREV_HASH_HEX: "abc" })).toThrow(/^PREV_HASH_HEX: must be 64 hex/);
  });

  it("derives the challenge URL next to /verify", () => {
    expect(deriveChallengeUrl("http://a:1/verify")).toBe("http://a:1/challenge");
    expect(deriveChallengeUrl("https://a/api/v1/verify")).toBe("https://a/api/v1/challenge");
    expect(deriveChallengeUrl("http://a/submit")).toBe("http://a/submit/challenge");
  });
});
