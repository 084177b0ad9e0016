/**
 * METRICS_* environment variables → a validated, immutable configuration.
 *
 * Every refusal is one line that starts with the variable's name, so a worker that
 * fails at start-up tells the operator exactly what to fix. Values of the auth
 * variables are never echoed back.
 */
import { globProblem, parseGlobList } from "./filter";
import { parseStaticLabels, type StaticLabels } from "./labels";

export interface BasicAuthConfig {
  readonly user: string;
  readonly password: string;
}

export interface AuthConfig {
  readonly basic: BasicAuthConfig | null;
  readonly token: string | null;
}

export interface RateLimitConfig {
  /** Tokens added per second for each client address. */
  readonly perSecond: number;
  /** Bucket size: how many requests a client may send back to back. */
  readonly burst: number;
}

export interface MetricsConfig {
  readonly enabled: boolean;
  readonly host: string;
  readonly port: number;
  readonly staticLabels: StaticLabels;
  /** null when neither basic auth nor a token is configured (open endpoints). */
  readonly auth: AuthConfig | null;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  /** null disables rate limiting. */
  readonly rateLimit: RateLimitConfig | null;
  readonly maxConcurrentScrapes: number;
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
}

export const DEFAULT_METRICS_PORT = 8082;
export const DEFAULT_METRICS_HOST = "0.0.0.0";

export const defaultMetricsConfig: MetricsConfig = Object.freeze({
  enabled: true,
  host: DEFAULT_METRICS_HOST,
  port: DEFAULT_METRICS_PORT,
  staticLabels: Object.freeze({}),
  auth: null,
  include: Object.freeze([]),
  exclude: Object.freeze([]),
  rateLimit: Object.freeze({ perSecond: 10, burst: 20 }),
  maxConcurrentScrapes: 4,
  requestTimeoutMs: 10_000,
  headersTimeoutMs: 5_000,
});

/** Thrown for a bad METRICS_* value; `variable` names it, `message` is one line. */
export class MetricsConfigError extends Error {
  override readonly name = "MetricsConfigError";
  constructor(readonly variable: string, problem: string) {
    super(`${variable}: ${problem}`);
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Unset and blank are the same: compose files often pass `VAR=` for "not set". */
function read(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === "" ? undefined : v;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const v = read(env, name);
  if (v === undefined) return fallback;
  const lower = v.toLowerCase();
  if (["1", "true", "yes", "on"].includes(lower)) return true;
  if (["0", "false", "no", "off"].includes(lower)) return false;
  throw new MetricsConfigError(name, `expected 1/0 (or true/false, yes/no, on/off), got "${v}"`);
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const v = read(env, name);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v)) throw new MetricsConfigError(name, `expected an integer ${min}..${max}, got "${v}"`);
  const n = Number(v);
  if (n < min || n > max) throw new MetricsConfigError(name, `expected an integer ${min}..${max}, got ${v}`);
  return n;
}

function decimal(env: Env, name: string, fallback: number, min: number, max: number): number {
  const v = read(env, name);
  if (v === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(v)) throw new MetricsConfigError(name, `expected a number ${min}..${max}, got "${v}"`);
  const n = Number(v);
  if (n < min || n > max) throw new MetricsConfigError(name, `expected a number ${min}..${max}, got ${v}`);
  return n;
}

function host(env: Env): string {
  const v = read(env, "METRICS_HOST");
  if (v === undefined) return DEFAULT_METRICS_HOST;
  // IPv4, IPv6 (bare, as node:http wants it) or a DNS name; anything else is a typo.
  if (!/^[a-zA-Z0-9.:-]+$/.test(v)) throw new MetricsConfigError("METRICS_HOST", `expected an IP address or host name, got "${v}"`);
  return v;
}

function auth(env: Env): AuthConfig | null {
  const user = read(env, "METRICS_AUTH_USER");
  const password = read(env, "METRICS_AUTH_PASSWORD");
  const token = read(env, "METRICS_AUTH_TOKEN");
  if (user !== undefined && password === undefined) {
    throw new MetricsConfigError("METRICS_AUTH_PASSWORD", "must be set when METRICS_AUTH_USER is set");
  }
  if (password !== undefined && user === undefined) {
    throw new MetricsConfigError("METRICS_AUTH_USER", "must be set when METRICS_AUTH_PASSWORD is set");
  }
  // RFC 7617: the user-id cannot contain a colon. (Values are deliberately not echoed.)
  if (user !== undefined && user.includes(":")) throw new MetricsConfigError("METRICS_AUTH_USER", "must not contain ':'");
  // RFC 6750 token68 alphabet, so the token survives an Authorization header verbatim.
  if (token !== undefined && !/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) {
    throw new MetricsConfigError("METRICS_AUTH_TOKEN", "may only contain letters, digits and -._~+/ (optionally ending in =)");
  }
  if (user === undefined && token === undefined) return null;
  return Object.freeze({
    basic: user !== undefined && password !== undefined ? Object.freeze({ user, password }) : null,
    token: token ?? null,
  });
}

function globs(env: Env, name: string): readonly string[] {
  const v = read(env, name);
  if (v === undefined) return Object.freeze([]);
  const list = parseGlobList(v);
  for (const g of list) {
    const problem = globProblem(g);
    if (problem) throw new MetricsConfigError(name, problem);
  }
  return Object.freeze(list);
}

function labels(env: Env): StaticLabels {
  const v = read(env, "METRICS_LABELS");
  if (v === undefined) return Object.freeze({});
  try {
    return Object.freeze(parseStaticLabels(v));
  } catch (e) {
    throw new MetricsConfigError("METRICS_LABELS", e instanceof Error ? e.message : String(e));
  }
}

/**
 * Reads every METRICS_* variable (see README for the table) and returns the config,
 * or throws a {@link MetricsConfigError} for the first bad value.
 */
export function metricsConfigFromEnv(env: Env): MetricsConfig {
  const d = defaultMetricsConfig;
  const perSecond = decimal(env, "METRICS_RATE_LIMIT_PER_SECOND", d.rateLimit?.perSecond ?? 0, 0, 1_000_000);
  const burst = integer(env, "METRICS_RATE_LIMIT_BURST", d.rateLimit?.burst ?? 1, 1, 1_000_000);
  const requestTimeoutMs = integer(env, "METRICS_REQUEST_TIMEOUT_MS", d.requestTimeoutMs, 1, 3_600_000);
  const headersTimeoutMs = integer(env, "METRICS_HEADERS_TIMEOUT_MS", Math.min(d.headersTimeoutMs, requestTimeoutMs), 1, 3_600_000);
  // node:http refuses headersTimeout > requestTimeout; say so in our words, at start-up.
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new MetricsConfigError("METRICS_HEADERS_TIMEOUT_MS", `must not exceed METRICS_REQUEST_TIMEOUT_MS (${requestTimeoutMs})`);
  }
  return Object.freeze({
    enabled: bool(env, "METRICS_ENABLED", d.enabled),
    host: host(env),
    port: integer(env, "METRICS_PORT", d.port, 0, 65_535),
    staticLabels: labels(env),
    auth: auth(env),
    include: globs(env, "METRICS_INCLUDE"),
    exclude: globs(env, "METRICS_EXCLUDE"),
    rateLimit: perSecond === 0 ? null : Object.freeze({ perSecond, burst }),
    maxConcurrentScrapes: integer(env, "METRICS_MAX_CONCURRENT_SCRAPES", d.maxConcurrentScrapes, 1, 10_000),
    requestTimeoutMs,
    headersTimeoutMs,
  });
}
