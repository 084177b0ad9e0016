/**
 * The aggregator's configuration: every environment variable is read and checked here and
 * nowhere else. A bad value stops the start with one ConfigError naming the variable.
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { hexToBytes, isLowerHex, MAX_BATCH as PROTOCOL_MAX_BATCH, MAX_DIM as PROTOCOL_MAX_DIM, MAX_RECEIPT_BYTES } from "@tops/protocol";
import { ConfigError, envBool, envEnum, envInt, envNumber, envString, redactUrl, type Env } from "@tops/env";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface AggregatorConfig {
  /** AGGREGATOR_HOST: interface to listen on. */
  readonly host: string;
  /** AGGREGATOR_PORT: 0 picks a free port (the bound one is logged and returned). */
  readonly port: number;
  /** DATA_DIR: the embedded database (receipts, quarantine, epoch secret) lives here (receipts.sqlite, or db/ for PGlite). */
  readonly dataDir: string;
  /** DATABASE_URL: postgres://… to keep everything in PostgreSQL instead (several aggregators can share it); null = embedded. */
  readonly databaseUrl: string | null;
  /**
   * EMBEDDED_ENGINE: sqlite or pglite (PostgreSQL in WASM: the PostgreSQL engine's own SQL, ≈4× the
   * CPU per receipt). null (unset): the one whose database DATA_DIR already holds, else sqlite.
   */
  readonly embeddedEngine: "sqlite" | "pglite" | null;
  /**
   * EMBEDDED_DB_THREAD: run the embedded database on its own worker thread, so its statements and
   * fsyncs do not take the event loop that answers /verify.
   */
  readonly embeddedDbThread: boolean;
  /** EPOCH_SECONDS: length of one challenge epoch. */
  readonly epochSeconds: number;
  /** ALLOWED_KEYS ∪ ALLOWED_KEYS_FILE, lowercase compressed hex; null = dev mode, any key is accepted. */
  readonly allowedKeys: ReadonlySet<string> | null;
  /** AUDIT_RATE: fraction (0..1) of receipts passing every other check that must open rows (SPEC.md §8). */
  readonly auditRate: number;
  /** AUDIT_ROWS: rows of y2 an audited receipt must open; an audit costs AUDIT_ROWS · (k·n + n²) multiply-adds. */
  readonly auditRows: number;
  /** AUDIT_TIMEOUT_MS: openings must arrive within this long after the 202, or the receipt is refused (AUDIT_EXPIRED). */
  readonly auditTimeoutMs: number;
  /** AUDIT_PENDING_MAX: audits waiting for openings, in all; beyond, audited receipts are answered 503 OVERLOADED. */
  readonly auditPendingMax: number;
  /** AUDIT_PENDING_PER_KEY: the same, per key: one key cannot hold every slot. */
  readonly auditPendingPerKey: number;
  /** AUDIT_TIMEOUT_QUARANTINE: this many expired audits of one key within QUARANTINE_SECONDS quarantine it; 0 never. */
  readonly auditTimeoutQuarantine: number;
  /** AUDIT_KERNEL: "auto" (onnxruntime's int8 GEMM when it loads and passes its self-test, else the reference), "onnxruntime" (or fail), "reference". */
  readonly auditKernel: "auto" | "onnxruntime" | "reference";
  /** AUDIT_THREADS: worker threads recomputing opened rows; 0 computes them on the main thread. */
  readonly auditThreads: number;
  /** AUDIT_QUEUE_MAX: openings waiting for a thread before new ones are answered 503 OVERLOADED. */
  readonly auditQueueMax: number;
  /** QUARANTINE_SECONDS: how long a key that failed an audit is refused; 0 disables quarantine. */
  readonly quarantineSeconds: number;
  /**
   * QUARANTINE_REFRESH_MS: how often the quarantine list is read again from the store (another
   * aggregator's quarantine is enforced at commit at once; this is how soon it is also refused
   * before an audit is asked for).
   */
  readonly quarantineRefreshMs: number;
  /** MAX_DIM: largest m, n and k accepted (the protocol allows up to 65536). */
  readonly maxDim: number;
  /** MAX_BATCH: largest batch accepted (the protocol allows up to 1024). */
  readonly maxBatch: number;
  /** MAX_BODY_BYTES: larger POST bodies are refused with 413 while streaming. */
  readonly maxBodyBytes: number;
  /** HEADERS_TIMEOUT_MS: time allowed to receive the request headers. */
  readonly headersTimeoutMs: number;
  /** REQUEST_TIMEOUT_MS: time allowed to receive the whole request (headers and body). */
  readonly requestTimeoutMs: number;
  /** KEEP_ALIVE_TIMEOUT_MS: idle time before a kept-alive connection is closed. */
  readonly keepAliveTimeoutMs: number;
  /** LOG_LEVEL: pino level of the JSON logs on stdout. */
  readonly logLevel: LogLevel;
}

export const DEFAULT_HOST = "0.0.0.0";
export const DEFAULT_PORT = 8081;
export const DEFAULT_DATA_DIR = "./.data/aggregator";

/** Defaults of everything but the data dir and allow list, which depend on the environment. */
export const DEFAULTS = {
  host: DEFAULT_HOST,
  port: DEFAULT_PORT,
  epochSeconds: 60,
  auditRate: 1,
  auditRows: 16,
  auditTimeoutMs: 30_000,
  auditPendingMax: 10_000,
  auditPendingPerKey: 256,
  auditTimeoutQuarantine: 3,
  auditKernel: "auto",
  auditThreads: Math.max(1, Math.min(4, availableParallelism() - 1)),
  auditQueueMax: 256,
  quarantineSeconds: 3600,
  quarantineRefreshMs: 1000,
  maxDim: 4096,
  maxBatch: 16,
  maxBodyBytes: 8192,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  logLevel: "info",
} as const satisfies Omit<AggregatorConfig, "dataDir" | "allowedKeys" | "databaseUrl" | "embeddedEngine" | "embeddedDbThread">;

export { ConfigError, type Env };

/** Checks one compressed secp256k1 key; returns it lowercased. `where` names the variable (and line). */
function publicKey(text: string, variable: string, where: string): string {
  const key = text.toLowerCase();
  let valid = isLowerHex(key, 33) && (key.startsWith("02") || key.startsWith("03"));
  if (valid) {
    try {
      secp256k1.Point.fromBytes(hexToBytes(key));
    } catch {
      valid = false;
    }
  }
  if (!valid) throw new ConfigError(variable, `${where}"${text.slice(0, 80)}" is not a compressed secp256k1 public key (66 hex, 02/03 prefix)`);
  return key;
}

/**
 * ALLOWED_KEYS (comma list) and ALLOWED_KEYS_FILE (one key per line, # comments) together.
 * Neither set → null (dev mode). A file that is set but lists no key is an empty allow
 * list that refuses everyone: an operator who points at a file meant to restrict.
 */
function allowedKeys(env: Env, readFile: (path: string) => string): ReadonlySet<string> | null {
  const list = envString(env, "ALLOWED_KEYS");
  const file = envString(env, "ALLOWED_KEYS_FILE");
  if (list === undefined && file === undefined) return null;
  const keys = new Set<string>();
  if (list !== undefined) {
    const items = list.split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (items.length === 0) throw new ConfigError("ALLOWED_KEYS", "lists no key");
    for (const item of items) keys.add(publicKey(item, "ALLOWED_KEYS", ""));
  }
  if (file !== undefined) {
    let text: string;
    try {
      text = readFile(file);
    } catch (e) {
      throw new ConfigError("ALLOWED_KEYS_FILE", `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    text.split(/\r?\n/).forEach((line, i) => {
      const item = line.replace(/#.*/, "").trim();
      if (item !== "") keys.add(publicKey(item, "ALLOWED_KEYS_FILE", `line ${i + 1}: `));
    });
  }
  return keys;
}

/**
 * Reads the whole configuration from `env`. Throws ConfigError for the first bad value.
 * `readFile` is injectable for tests of ALLOWED_KEYS_FILE errors.
 */
export function configFromEnv(env: Env, readFile: (path: string) => string = (p) => readFileSync(p, "utf8")): AggregatorConfig {
  const host = envString(env, "AGGREGATOR_HOST") ?? DEFAULTS.host;
  if (/\s/.test(host)) throw new ConfigError("AGGREGATOR_HOST", `must be a host name or address, got "${host}"`);
  const headersTimeoutMs = envInt(env, "HEADERS_TIMEOUT_MS", DEFAULTS.headersTimeoutMs, 100, 600_000);
  const requestTimeoutMs = envInt(env, "REQUEST_TIMEOUT_MS", DEFAULTS.requestTimeoutMs, 100, 600_000);
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError("HEADERS_TIMEOUT_MS", `must not exceed REQUEST_TIMEOUT_MS (${requestTimeoutMs}), got ${headersTimeoutMs}`);
  }
  return {
    host,
    port: envInt(env, "AGGREGATOR_PORT", DEFAULTS.port, 0, 65535),
    dataDir: resolve(envString(env, "DATA_DIR") ?? DEFAULT_DATA_DIR),
    databaseUrl: databaseUrl(env),
    embeddedEngine: envString(env, "EMBEDDED_ENGINE") === undefined ? null : envEnum(env, "EMBEDDED_ENGINE", ["sqlite", "pglite"], "sqlite"),
    embeddedDbThread: envBool(env, "EMBEDDED_DB_THREAD", true),
    epochSeconds: envInt(env, "EPOCH_SECONDS", DEFAULTS.epochSeconds, 1, 86_400),
    allowedKeys: allowedKeys(env, readFile),
    auditRate: envNumber(env, "AUDIT_RATE", DEFAULTS.auditRate, 0, 1),
    auditRows: envInt(env, "AUDIT_ROWS", DEFAULTS.auditRows, 1, 1024),
    auditTimeoutMs: envInt(env, "AUDIT_TIMEOUT_MS", DEFAULTS.auditTimeoutMs, 100, 3_600_000),
    auditPendingMax: envInt(env, "AUDIT_PENDING_MAX", DEFAULTS.auditPendingMax, 1, 10_000_000),
    auditPendingPerKey: envInt(env, "AUDIT_PENDING_PER_KEY", DEFAULTS.auditPendingPerKey, 1, 10_000_000),
    auditTimeoutQuarantine: envInt(env, "AUDIT_TIMEOUT_QUARANTINE", DEFAULTS.auditTimeoutQuarantine, 0, 1_000_000),
    auditKernel: envEnum(env, "AUDIT_KERNEL", ["auto", "onnxruntime", "reference"] as const, DEFAULTS.auditKernel),
    auditThreads: envInt(env, "AUDIT_THREADS", DEFAULTS.auditThreads, 0, 64),
    auditQueueMax: envInt(env, "AUDIT_QUEUE_MAX", DEFAULTS.auditQueueMax, 1, 1_000_000),
    quarantineSeconds: envInt(env, "QUARANTINE_SECONDS", DEFAULTS.quarantineSeconds, 0, 365 * 86_400),
    quarantineRefreshMs: envInt(env, "QUARANTINE_REFRESH_MS", DEFAULTS.quarantineRefreshMs, 100, 600_000),
    maxDim: envInt(env, "MAX_DIM", DEFAULTS.maxDim, 1, PROTOCOL_MAX_DIM),
    maxBatch: envInt(env, "MAX_BATCH", DEFAULTS.maxBatch, 1, PROTOCOL_MAX_BATCH),
    // Below the protocol's receipt limit a valid receipt could be refused; above 1 MiB is never useful.
    maxBodyBytes: envInt(env, "MAX_BODY_BYTES", DEFAULTS.maxBodyBytes, MAX_RECEIPT_BYTES, 1 << 20),
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: envInt(env, "KEEP_ALIVE_TIMEOUT_MS", DEFAULTS.keepAliveTimeoutMs, 100, 600_000),
    logLevel: envEnum(env, "LOG_LEVEL", LOG_LEVELS, DEFAULTS.logLevel),
  };
}

function databaseUrl(env: Env): string | null {
  const raw = envString(env, "DATABASE_URL");
  if (raw === undefined) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError("DATABASE_URL", `must be a postgres:// URL, got "${redactUrl(raw)}"`);
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") throw new ConfigError("DATABASE_URL", `must be a postgres:// URL, got "${redactUrl(raw)}"`);
  return raw;
}

/** What the start-up log line shows: everything but the allow list itself (only its size) and no password. */
export function configSummary(c: AggregatorConfig): Record<string, string | number | boolean> {
  return {
    host: c.host, port: c.port, dataDir: c.dataDir, database: c.databaseUrl === null ? `embedded${c.embeddedEngine ? ` ${c.embeddedEngine}` : ""}${c.embeddedDbThread ? " (own thread)" : ""}` : redactUrl(c.databaseUrl), epochSeconds: c.epochSeconds,
    allowedKeys: c.allowedKeys === null ? "any (dev mode)" : c.allowedKeys.size,
    auditRate: c.auditRate, auditRows: c.auditRows, auditTimeoutMs: c.auditTimeoutMs, auditPendingMax: c.auditPendingMax,
    auditPendingPerKey: c.auditPendingPerKey, auditTimeoutQuarantine: c.auditTimeoutQuarantine, auditKernel: c.auditKernel, auditThreads: c.auditThreads, auditQueueMax: c.auditQueueMax, quarantineSeconds: c.quarantineSeconds, quarantineRefreshMs: c.quarantineRefreshMs,
    maxDim: c.maxDim, maxBatch: c.maxBatch, maxBodyBytes: c.maxBodyBytes,
    headersTimeoutMs: c.headersTimeoutMs, requestTimeoutMs: c.requestTimeoutMs, keepAliveTimeoutMs: c.keepAliveTimeoutMs, logLevel: c.logLevel,
  };
}
