import { describe, expect, it } from "vitest";
import { defaultMetricsConfig, MetricsConfigError, metricsConfigFromEnv, parseStaticLabels } from "../src/index";

function refusal(env: Record<string, string>): MetricsConfigError {
  try {
    metricsConfigFromEnv(env);
  } catch (e) {
    if (e instanceof MetricsConfigError) return e;
    throw e;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe("metricsConfigFromEnv", () => {
  it("gives the documented defaults for an empty environment", () => {
    const c = metricsConfigFromEnv({});
    expect(c).toEqual(defaultMetricsConfig);
    expect(c.enabled).toBe(true);
    expect(c.port).toBe(8082);
    expect(c.host).toBe("0.0.0.0");
    expect(c.auth).toBeNull();
    expect(c.rateLimit).toEqual({ perSecond: 10, burst: 20 });
  });

  it("reads every variable", () => {
    const c = metricsConfigFromEnv({
      METRICS_ENABLED: "true", METRICS_PORT: "0", METRICS_HOST: "::1",
      METRICS_LABELS: "region=eu, rack=7", METRICS_AUTH_USER: "prom", METRICS_AUTH_PASSWORD: "p:w=d",
      METRICS_AUTH_TOKEN: "abc.DEF-123_~+/==", METRICS_INCLUDE: "tops_worker_*", METRICS_EXCLUDE: "*_info,tops_worker_?ptime*",
      METRICS_RATE_LIMIT_PER_SECOND: "2.5", METRICS_RATE_LIMIT_BURST: "5", METRICS_MAX_CONCURRENT_SCRAPES: "2",
      METRICS_REQUEST_TIMEOUT_MS: "3000", METRICS_HEADERS_TIMEOUT_MS: "1000",
    });
    expect(c).toEqual({
      enabled: true, port: 0, host: "::1", staticLabels: { region: "eu", rack: "7" },
      auth: { basic: { user: "prom", password: "p:w=d" }, token: "abc.DEF-123_~+/==" },
      include: ["tops_worker_*"], exclude: ["*_info", "tops_worker_?ptime*"],
      rateLimit: { perSecond: 2.5, burst: 5 }, maxConcurrentScrapes: 2, requestTimeoutMs: 3000, headersTimeoutMs: 1000,
    });
  });

  it("understands the usual spellings of METRICS_ENABLED and treats blank as unset", () => {
    for (const v of ["0", "false", "NO", "off"]) expect(metricsConfigFromEnv({ METRICS_ENABLED: v }).enabled).toBe(false);
    for (const v of ["1", "TRUE", "yes", "on", "", "  "]) expect(metricsConfigFromEnv({ METRICS_ENABLED: v }).enabled).toBe(true);
    expect(metricsConfigFromEnv({ METRICS_PORT: "" }).port).toBe(8082);
  });

  it("turns rate limiting off with 0 and caps the headers timeout at the request timeout", () => {
    expect(metricsConfigFromEnv({ METRICS_RATE_LIMIT_PER_SECOND: "0" }).rateLimit).toBeNull();
    expect(metricsConfigFromEnv({ METRICS_REQUEST_TIMEOUT_MS: "1000" }).headersTimeoutMs).toBe(1000);
  });

  it.each([
    [{ METRICS_ENABLED: "maybe" }, "METRICS_ENABLED"],
    [{ METRICS_PORT: "80a" }, "METRICS_PORT"],
    [{ METRICS_PORT: "65536" }, "METRICS_PORT"],
    [{ METRICS_PORT: "-1" }, "METRICS_PORT"],
    [{ METRICS_HOST: "bad host" }, "METRICS_HOST"],
    [{ METRICS_LABELS: "region" }, "METRICS_LABELS"],
    [{ METRICS_LABELS: "1region=eu" }, "METRICS_LABELS"],
    [{ METRICS_LABELS: "__name__=x" }, "METRICS_LABELS"],
    [{ METRICS_LABELS: "le=1" }, "METRICS_LABELS"],
    [{ METRICS_LABELS: "device_did=x" }, "METRICS_LABELS"],
    [{ METRICS_LABELS: "version=x" }, "METRICS_LABELS"],
    [{ METRICS_LABELS: "a=1,a=2" }, "METRICS_LABELS"],
    [{ METRICS_LABELS: "a=" }, "METRICS_LABELS"],
    [{ METRICS_AUTH_USER: "u" }, "METRICS_AUTH_PASSWORD"],
    [{ METRICS_AUTH_PASSWORD: "p" }, "METRICS_AUTH_USER"],
    [{ METRICS_AUTH_USER: "u:x", METRICS_AUTH_PASSWORD: "p" }, "METRICS_AUTH_USER"],
    [{ METRICS_AUTH_TOKEN: "has space" }, "METRICS_AUTH_TOKEN"],
    [{ METRICS_INCLUDE: "tops_worker_[a]" }, "METRICS_INCLUDE"],
    [{ METRICS_EXCLUDE: "a.b" }, "METRICS_EXCLUDE"],
    [{ METRICS_RATE_LIMIT_PER_SECOND: "fast" }, "METRICS_RATE_LIMIT_PER_SECOND"],
    [{ METRICS_RATE_LIMIT_BURST: "0" }, "METRICS_RATE_LIMIT_BURST"],
    [{ METRICS_MAX_CONCURRENT_SCRAPES: "0" }, "METRICS_MAX_CONCURRENT_SCRAPES"],
    [{ METRICS_REQUEST_TIMEOUT_MS: "1.5" }, "METRICS_REQUEST_TIMEOUT_MS"],
    [{ METRICS_REQUEST_TIMEOUT_MS: "1000", METRICS_HEADERS_TIMEOUT_MS: "2000" }, "METRICS_HEADERS_TIMEOUT_MS"],
  ])("refuses %j with one line naming %s", (env, variable) => {
    const e = refusal(env);
    expect(e.variable).toBe(variable);
    expect(e.message.startsWith(`${variable}: `)).toBe(true);
    expect(e.message).not.toContain("\n");
  });

  it("never echoes credentials in its errors", () => {
    expect(refusal({ METRICS_AUTH_TOKEN: "s3cret token" }).message).not.toContain("s3cret");
    expect(refusal({ METRICS_AUTH_USER: "adm:in", METRICS_AUTH_PASSWORD: "hunter2" }).message).not.toMatch(/adm|hunter2/);
  });
});

describe("parseStaticLabels", () => {
  it("parses name=value pairs, trimming spaces and keeping '=' in values", () => {
    expect(parseStaticLabels(" region = eu ,rack=7,,note=a=b ")).toEqual({ region: "eu", rack: "7", note: "a=b" });
    expect(parseStaticLabels("")).toEqual({});
  });

  it("says which label is wrong", () => {
    expect(() => parseStaticLabels("good=1,bad-name=2")).toThrow(/bad-name/);
  });
});
