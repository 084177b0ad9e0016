/**
 * METRICS_* environment variables → a validated, immutable configuration.
 *
 * Every refusal is one line that starts with the variable's name, so a worker that
 * fails at start-up tells the operator exactly what to fix. Values of the auth
 * variables are never echoed back.
 */
import { globProblem, parseGlobList } from "./filter";
import { parseStaticLabels, type StaticLabels } from "./labels";
import { ConfigError, envBool, envInt, envNumber, envString, type Env } from "@tops/env";

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

/** Thrown for a bad METRICS_* value: the services' one ConfigError; `variable` names it, `message` is one line. */
export { ConfigError as MetricsConfigError, type Env };

function host(env: Env): string {
  const v = envString(env, "METRICS_HOST");
  if (v === undefined) return DEFAULT_METRICS_HOST;
  // IPv4, IPv6 (bare, as node:http wants it) or a DNS name; anything else is a typo.
  if (!/^[a-zA-Z0-9.:-]+$/.test(v)) throw new ConfigError("METRICS_HOST", `expected an IP address or host name, got "${v}"`);
  return v;
}

function auth(env: Env): AuthConfig | null {
  const user = envString(env, "METRICS_AUTH_USER");
  const password = envString(env, "METRICS_AUTH_PASSWORD");
  const token = envString(env, "METRICS_AUTH_TOKEN");
  if (user !== undefined && password === undefined) {
    throw new ConfigError("METRICS_AUTH_PASSWORD", "must be set when METRICS_AUTH_USER is set");
  }
  if (password !== undefined && user === undefined) {
    throw new ConfigError("METRICS_AUTH_USER", "must be set when METRICS_AUTH_PASSWORD is set");
  }
  // RFC 7617: the user-id cannot contain a colon. (Values are deliberately not echoed.)
  if (user !== undefined && user.includes(":")) throw new ConfigError("METRICS_AUTH_USER", "must not contain ':'");
  // RFC 6750 token68 alphabet, so the token survives an Authorization header verbatim.
  if (token !== undefined && !/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) {
    throw new ConfigError("METRICS_AUTH_TOKEN", "may only contain letters, digits and -._~+/ (optionally ending in =)");
  }
  if (user === undefined && token === undefined) return null;
  return Object.freeze({
    basic: user !== undefined && password !== undefined ? Object.freeze({ user, password }) : null,
    token: token ?? null,
  });
}

function globs(env: Env, name: string): readonly string[] {
  const v = envString(env, name);
  if (v === undefined) return Object.freeze([]);
  const list = parseGlobList(v);
  for (const g of list) {
    const problem = globProblem(g);
    if (problem) throw new ConfigError(name, problem);
  }
  return Object.freeze(list);
}

function labels(env: Env): StaticLabels {
  const v = envString(env, "METRICS_LABELS");
  if (v === undefined) return Object.freeze({});
  try {
    return Object.freeze(parseStaticLabels(v));
  } catch (e) {
    throw new ConfigError("METRICS_LABELS", e instanceof Error ? e.message : String(e));
  }
}

/**
 * Reads every METRICS_* variable (see README for the table) and returns the config,
 * or throws a {@link MetricsConfigError} for the first bad value.
 */
export function metricsConfigFromEnv(env: Env): MetricsConfig {
  const d = defaultMetricsConfig;
  const perSecond = envNumber(env, "METRICS_RATE_LIMIT_PER_SECOND", d.rateLimit?.perSecond ?? 0, 0, 1_000_000);
  const burst = envInt(env, "METRICS_RATE_LIMIT_BURST", d.rateLimit?.burst ?? 1, 1, 1_000_000);
  const requestTimeoutMs = envInt(env, "METRICS_REQUEST_TIMEOUT_MS", d.requestTimeoutMs, 1, 3_600_000);
  const headersTimeoutMs = envInt(env, "METRICS_HEADERS_TIMEOUT_MS", Math.min(d.headersTimeoutMs, requestTimeoutMs), 1, 3_600_000);
  // node:http refuses headersTimeout > requestTimeout; say so in our words, at start-up.
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError("METRICS_HEADERS_TIMEOUT_MS", `must not exceed METRICS_REQUEST_TIMEOUT_MS (${requestTimeoutMs})`);
  }
  return Object.freeze({
    enabled: envBool(env, "METRICS_ENABLED", d.enabled),
    host: host(env),
    port: envInt(env, "METRICS_PORT", d.port, 0, 65_535),
    staticLabels: labels(env),
    auth: auth(env),
    include: globs(env, "METRICS_INCLUDE"),
    exclude: globs(env, "METRICS_EXCLUDE"),
    rateLimit: perSecond === 0 ? null : Object.freeze({ perSecond, burst }),
    maxConcurrentScrapes: envInt(env, "METRICS_MAX_CONCURRENT_SCRAPES", d.maxConcurrentScrapes, 1, 10_000),
    requestTimeoutMs,
    headersTimeoutMs,
  });
}
