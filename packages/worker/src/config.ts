/**
 * The worker's configuration, from the environment, as the Rust original named it.
 * Every value is checked at start; the secret key never appears in any message.
 */
import { readFileSync } from "node:fs";
import { isLowerHex, MAX_STRING_LENGTH, publicKeyHex, secretKeyFromHex } from "@tops/protocol";
import { deriveChallengeUrl } from "./aggregator-client";
import { ConfigError, envInt, envNumber, envString, envUrl, type Env } from "@tops/env";

export const DEFAULT_DEVICE_DID = "did:peaq:DEVICE123";
export const DEFAULT_AGGREGATOR_URL = "http://localhost:8081/verify";

export interface WorkerConfig {
  readonly secretKey: Uint8Array;
  readonly publicKeyHex: string;
  readonly deviceDid: string;
  readonly verifyUrl: string;
  readonly challengeUrl: string;
  readonly maxRetries: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly requestTimeoutMs: number;
  /** Attempts per second at most; 0 = no limit. */
  readonly rateLimit: number;
  /** Stop after this many attempts; 0 = run until stopped. */
  readonly maxAttempts: number;
  readonly spoolDir: string;
  readonly spoolMax: number;
  readonly breakerThreshold: number;
  readonly breakerCooldownMs: number;
  /** OPENINGS_MEMORY_MB: row leaves kept to answer audits (32 bytes per row of y2); older receipts are recomputed when audited. */
  readonly openingsMemoryBytes: number;
  /** EPOCH_ID and PREV_HASH_HEX: the challenge used when the aggregator has none (the Rust project's verifier). */
  readonly staticChallenge: { readonly epochId: number; readonly prevHashHex: string };
}

/** The Rust original's defaults: epoch 1, prev_hash 64 × "a". */
export const DEFAULT_STATIC_CHALLENGE = { epochId: 1, prevHashHex: "a".repeat(64) } as const;

/**
 * The secret key: WORKER_SK_HEX, or the file WORKER_SK_FILE names (for Kubernetes/Docker
 * secrets). 64 hex characters, an optional 0x prefix, either case.
 */
export function secretKeyFromEnv(env: Env): Uint8Array {
  const file = envString(env, "WORKER_SK_FILE");
  const inline = envString(env, "WORKER_SK_HEX");
  if (file !== undefined && inline !== undefined) throw new ConfigError("WORKER_SK_FILE", "set either WORKER_SK_HEX or WORKER_SK_FILE, not both");
  let raw = inline;
  const name = file !== undefined ? "WORKER_SK_FILE" : "WORKER_SK_HEX";
  if (file !== undefined) {
    try {
      raw = readFileSync(file, "utf8").trim();
    } catch (e) {
      throw new ConfigError(name, `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? "error"}`);
    }
  }
  if (raw === undefined) throw new ConfigError("WORKER_SK_HEX", "is required (64 hex characters, the secp256k1 secret key), or WORKER_SK_FILE");
  const hex = raw.replace(/^0x/i, "").toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new ConfigError(name, `must be 64 hex characters (got ${hex.length} characters; value not shown)`);
  try {
    return secretKeyFromHex(hex);
  } catch {
    throw new ConfigError(name, "is not a valid secp256k1 secret key (zero or not below the curve order; value not shown)");
  }
}

export function workerConfigFromEnv(env: Env): WorkerConfig {
  const secretKey = secretKeyFromEnv(env);
  const deviceDid = envString(env, "DEVICE_DID") ?? DEFAULT_DEVICE_DID;
  if (deviceDid.length > MAX_STRING_LENGTH || [...deviceDid].some((c) => c < " " || c === "\x7f")) {
    throw new ConfigError("DEVICE_DID", `must be 1..${MAX_STRING_LENGTH} printable characters`);
  }
  const verifyUrl = envUrl(env, "AGGREGATOR_URL", DEFAULT_AGGREGATOR_URL)!;
  return {
    secretKey,
    publicKeyHex: publicKeyHex(secretKey),
    deviceDid,
    verifyUrl,
    challengeUrl: envUrl(env, "CHALLENGE_URL", deriveChallengeUrl(verifyUrl))!,
    maxRetries: envInt(env, "MAX_RETRIES", 3, 0, 100),
    retryBaseMs: envInt(env, "RETRY_BASE_MS", 200, 1, 60_000),
    retryMaxMs: envInt(env, "RETRY_MAX_MS", 10_000, 1, 600_000),
    requestTimeoutMs: envInt(env, "REQUEST_TIMEOUT_MS", 10_000, 100, 600_000),
    rateLimit: envNumber(env, "RATE_LIMIT", 0, 0, 1e6),
    maxAttempts: envInt(env, "MAX_ATTEMPTS", 0, 0, Number.MAX_SAFE_INTEGER),
    spoolDir: envString(env, "SPOOL_DIR") ?? ".data/spool",
    spoolMax: envInt(env, "SPOOL_MAX", 10_000, 1, 10_000_000),
    breakerThreshold: envInt(env, "BREAKER_THRESHOLD", 5, 1, 1000),
    breakerCooldownMs: envInt(env, "BREAKER_COOLDOWN_MS", 30_000, 10, 3_600_000),
    openingsMemoryBytes: envInt(env, "OPENINGS_MEMORY_MB", 64, 1, 65_536) * 1024 * 1024,
    staticChallenge: { epochId: envInt(env, "EPOCH_ID", DEFAULT_STATIC_CHALLENGE.epochId, 0, Number.MAX_SAFE_INTEGER), prevHashHex: staticPrevHash(env) },
  };
}

function staticPrevHash(env: Env): string {
  const hex = (envString(env, "PREV_HASH_HEX") ?? DEFAULT_STATIC_CHALLENGE.prevHashHex).toLowerCase();
  if (!isLowerHex(hex, 32)) throw new ConfigError("PREV_HASH_HEX", "must be 64 hex characters (32 bytes)");
  return hex;
}
