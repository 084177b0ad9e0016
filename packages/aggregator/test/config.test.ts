import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, configFromEnv, DEFAULTS } from "../src/index";
import { newKey, tempDir } from "./support";

const errorOf = (env: Record<string, string>, readFile?: (p: string) => string): ConfigError => {
  try {
    configFromEnv(env, readFile);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
};

describe("configFromEnv", () => {
  it("has the documented defaults; blank values count as unset", () => {
    const c = configFromEnv({ AUDIT_RATE: "", ALLOWED_KEYS: "  " });
    expect(c).toMatchObject({
      host: "0.0.0.0", port: 8081, epochSeconds: 60, auditRate: 1, quarantineSeconds: 3600, maxDim: 4096, maxBatch: 16,
      maxBodyBytes: 8192, logLevel: "info", allowedKeys: null,
    });
    expect(c.dataDir).toBe(resolve(".data/aggregator"));
    expect(c.auditThreads).toBe(DEFAULTS.auditThreads);
  });

  it("reads every variable", () => {
    const k = newKey().pubkeyHex;
    const c = configFromEnv({
      AGGREGATOR_HOST: "127.0.0.1", AGGREGATOR_PORT: "0", DATA_DIR: "/tmp/x", EPOCH_SECONDS: "30", ALLOWED_KEYS: ` ${k.toUpperCase()} ,`,
      AUDIT_RATE: "0.25", AUDIT_THREADS: "0", AUDIT_QUEUE_MAX: "5", QUARANTINE_SECONDS: "0", MAX_DIM: "512", MAX_BATCH: "4",
      MAX_BODY_BYTES: "4096", HEADERS_TIMEOUT_MS: "1000", REQUEST_TIMEOUT_MS: "2000", KEEP_ALIVE_TIMEOUT_MS: "3000", LOG_LEVEL: "DEBUG",
    });
    expect(c).toMatchObject({
      host: "127.0.0.1", port: 0, dataDir: "/tmp/x", epochSeconds: 30, auditRate: 0.25, auditThreads: 0, auditQueueMax: 5,
      quarantineSeconds: 0, maxDim: 512, maxBatch: 4, maxBodyBytes: 4096, headersTimeoutMs: 1000, requestTimeoutMs: 2000,
      keepAliveTimeoutMs: 3000, logLevel: "debug",
    });
    expect([...c.allowedKeys!]).toEqual([k]);
  });

  it("merges ALLOWED_KEYS_FILE (comments, blank lines) with ALLOWED_KEYS; an empty file is an empty allow list", () => {
    const [a, b] = [newKey().pubkeyHex, newKey().pubkeyHex];
    const dir = tempDir("cfg");
    writeFileSync(join(dir, "keys"), `# fleet\n${b}  # gpu-1\n\n`);
    writeFileSync(join(dir, "empty"), "# nobody yet\n");
    expect(configFromEnv({ ALLOWED_KEYS: a, ALLOWED_KEYS_FILE: join(dir, "keys") }).allowedKeys).toEqual(new Set([a, b]));
    expect(configFromEnv({ ALLOWED_KEYS_FILE: join(dir, "empty") }).allowedKeys).toEqual(new Set());
  });

  const bad: [Record<string, string>, string, RegExp][] = [
    [{ AGGREGATOR_PORT: "65536" }, "AGGREGATOR_PORT", /integer in \[0, 65535\]/],
    [{ AGGREGATOR_PORT: "80a" }, "AGGREGATOR_PORT", /got "80a"/],
    [{ AGGREGATOR_HOST: "a b" }, "AGGREGATOR_HOST", /host/],
    [{ EPOCH_SECONDS: "0" }, "EPOCH_SECONDS", /\[1, 86400\]/],
    [{ AUDIT_RATE: "1.5" }, "AUDIT_RATE", /\[0, 1\]/],
    [{ AUDIT_RATE: "NaN" }, "AUDIT_RATE", /\[0, 1\]/],
    [{ AUDIT_THREADS: "65" }, "AUDIT_THREADS", /\[0, 64\]/],
    [{ QUARANTINE_SECONDS: "-5" }, "QUARANTINE_SECONDS", /integer/],
    [{ MAX_DIM: "65537" }, "MAX_DIM", /\[1, 65536\]/],
    [{ MAX_BATCH: "0" }, "MAX_BATCH", /\[1, 1024\]/],
    [{ MAX_BODY_BYTES: "100" }, "MAX_BODY_BYTES", /\[4096, 1048576\]/],
    [{ HEADERS_TIMEOUT_MS: "5000", REQUEST_TIMEOUT_MS: "1000" }, "HEADERS_TIMEOUT_MS", /must not exceed REQUEST_TIMEOUT_MS/],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL", /one of fatal, error/],
    [{ ALLOWED_KEYS: "," }, "ALLOWED_KEYS", /no key/],
    [{ ALLOWED_KEYS: "02abc" }, "ALLOWED_KEYS", /not a compressed secp256k1 public key/],
    [{ ALLOWED_KEYS: `04${"11".repeat(32)}` }, "ALLOWED_KEYS", /not a compressed/],
    [{ ALLOWED_KEYS: `02${"ff".repeat(32)}` }, "ALLOWED_KEYS", /not a compressed/],
    [{ ALLOWED_KEYS_FILE: "/nonexistent/keys" }, "ALLOWED_KEYS_FILE", /cannot read \/nonexistent\/keys: ENOENT/],
  ];
  for (const [env, variable, message] of bad) {
    it(`refuses ${JSON.stringify(env)} naming ${variable}`, () => {
      const e = errorOf(env);
      expect(e.variable).toBe(variable);
      expect(e.message.startsWith(`${variable}: `)).toBe(true);
      expect(e.message).toMatch(message);
      expect(e.message).not.toContain("\n");
    });
  }

  it("names the line of a bad key in ALLOWED_KEYS_FILE", () => {
    const e = errorOf({ ALLOWED_KEYS_FILE: "/keys" }, () => `${newKey().pubkeyHex}\nnot-a-key\n`);
    expect(e.message).toMatch(/^ALLOWED_KEYS_FILE: line 2: "not-a-key"/);
  });
});
