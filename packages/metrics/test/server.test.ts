import { connect } from "node:net";
import { Gauge } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import {
  catalog, contractMetricKeys, createWorkerMetrics, metricsConfigFromEnv, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE,
  startMetricsServer, workerMetricKeys, type MetricsServer,
} from "../src/index";
import { CONTRACT_PATH, contractText, parseContractMetrics } from "./support/contract";
import { basic, get } from "./support/http";
import { parseExposition } from "./support/parse-exposition";
import { startTestServer, type TestServer } from "./support/server";
import { promtool, promtoolCheckMetrics, requireTool } from "./support/tools";

const PROMETHEUS_ACCEPT = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
/** promtool's lint findings that the contract's fixed names cause (exit code 3, not a parse error). */
const CONTRACT_LINT = new Set([
  "tops_worker_attempt_duration_ms metric names should not contain abbreviated units",
  "tops_worker_network_latency_ms metric names should not contain abbreviated units",
  // prom-client's default collectors: gauges with these names everywhere Node.js is scraped.
  'nodejs_active_handles_total non-counter metrics should not have "_total" suffix',
  'nodejs_active_requests_total non-counter metrics should not have "_total" suffix',
  'nodejs_active_resources_total non-counter metrics should not have "_total" suffix',
]);

const open: MetricsServer[] = [];
async function start(env: Record<string, string> = {}, metrics?: Parameters<typeof startTestServer>[1]): Promise<TestServer> {
  const t = await startTestServer(env, metrics);
  open.push(t.server);
  return t;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

function exercise(t: TestServer): void {
  const m = t.metrics;
  m.setInfo({ backend: "webgpu", adapter: "Test Adapter", kernelVer: "k1" });
  m.setEngineReady(true);
  for (let i = 0; i < 4; i++) {
    m.attemptStarted();
    m.attemptSucceeded({ durationMs: 40 + i, ops: 2_000_000 });
  }
  m.attemptStarted();
  m.attemptFailed({ durationMs: 1200, errorClass: "signature" });
  m.networkLatency(12);
  m.setReceiptsQueued(2);
}

describe("GET /prometheus", () => {
  it("serves 0.0.4 text with every contract metric, its type, help and buckets, and passes promtool", async () => {
    const t = await start();
    exercise(t);
    const res = await get(`${t.url}/prometheus`);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe(PROMETHEUS_CONTENT_TYPE);
    const parsed = parseExposition(res.text, "prometheus");

    const check = (name: string, type: string, help: string, buckets: readonly number[] | null | undefined): void => {
      const f = parsed.get(name);
      expect(f, name).toBeDefined();
      expect(f?.type, name).toBe(type);
      expect(f?.help, name).toBe(help);
      if (buckets) {
        const les = f?.samples.filter((s) => s.name === `${name}_bucket`).map((s) => s.labels.le);
        expect(les, name).toEqual([...buckets.map(String), "+Inf"]);
      }
    };
    for (const k of workerMetricKeys) check(catalog[k].name, catalog[k].type, catalog[k].help, catalog[k].buckets);
    expect(contractMetricKeys.every((k) => parsed.has(catalog[k].name))).toBe(true);

    const doc = contractText();
    if (doc === null) console.warn(`SKIPPED contract-document comparison of the scrape: ${CONTRACT_PATH} is absent`);
    else for (const c of parseContractMetrics(doc)) check(c.name, c.type, c.help, c.buckets);

    if (requireTool(promtool)) {
      const run = await promtoolCheckMetrics(res.text);
      const problems = run.output.split("\n").filter((l) => l.trim() !== "");
      // 0 = clean, 3 = lint findings only; anything else is a parse failure.
      expect([0, 3], run.output).toContain(run.code);
      expect(problems.filter((p) => !CONTRACT_LINT.has(p.trim())), run.output).toEqual([]);
    }
  });

  it("serves OpenMetrics when Accept prefers it, and ?format= pins a format", async () => {
    const t = await start();
    exercise(t);
    const om = await get(`${t.url}/prometheus`, { headers: { accept: PROMETHEUS_ACCEPT } });
    expect(om.headers["content-type"]).toBe(OPENMETRICS_CONTENT_TYPE);
    expect(om.headers.vary).toMatch(/Accept/);
    const parsed = parseExposition(om.text, "openmetrics");
    expect(parsed.get("tops_worker_total_attempts")?.type).toBe("counter");
    expect(parsed.get("tops_worker_attempt_duration_ms")?.samples.find((s) => s.labels.le === "1000.0")?.value).toBe(4);

    const text = await get(`${t.url}/prometheus?format=text`, { headers: { accept: PROMETHEUS_ACCEPT } });
    expect(text.headers["content-type"]).toBe(PROMETHEUS_CONTENT_TYPE);
    const forced = await get(`${t.url}/prometheus?format=openmetrics`);
    expect(forced.headers["content-type"]).toBe(OPENMETRICS_CONTENT_TYPE);
    expect((await get(`${t.url}/prometheus?format=xml`)).status).toBe(400);
    expect((await get(`${t.url}/prometheus`, { headers: { accept: "text/plain" } })).headers["content-type"]).toBe(PROMETHEUS_CONTENT_TYPE);
  });

  it("gzips when Accept-Encoding asks, and only then", async () => {
    const t = await start();
    exercise(t);
    const zipped = await get(`${t.url}/prometheus`, { headers: { "accept-encoding": "gzip, deflate" } });
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect([...zipped.raw.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    expect(Number(zipped.headers["content-length"])).toBe(zipped.raw.length);
    expect(zipped.raw.length).toBeLessThan(zipped.text.length / 3);
    expect(parseExposition(zipped.text, "prometheus").has("tops_worker_uptime_seconds")).toBe(true);

    const plain = await get(`${t.url}/prometheus`, { headers: { "accept-encoding": "identity" } });
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.raw.toString("utf8")).toContain("# TYPE tops_worker_uptime_seconds gauge");
    const json = await get(`${t.url}/metrics`, { headers: { "accept-encoding": "gzip" } });
    expect(json.headers["content-encoding"]).toBe("gzip");
    expect(JSON.parse(json.text)).toHaveProperty("metrics");
  });

  it("applies METRICS_INCLUDE / METRICS_EXCLUDE", async () => {
    const t = await start({ METRICS_INCLUDE: "tops_worker_*_total,tops_worker_info", METRICS_EXCLUDE: "*errors*" });
    const names = [...parseExposition((await get(`${t.url}/prometheus`)).text, "prometheus").keys()].sort();
    expect(names).toEqual([
      "tops_worker_failed_attempts_total", "tops_worker_info", "tops_worker_int8_ops_total", "tops_worker_receipts_dropped_total",
      "tops_worker_spool_refused_total", "tops_worker_successful_attempts_total", "tops_worker_total_attempts_total",
    ]);
  });
});

describe("JSON endpoints", () => {
  it("GET /metrics has totals, min/avg/max, error counts, last success, rates and breaker state", async () => {
    const t = await start();
    exercise(t);
    t.metrics.setBreakerState("half_open");
    const res = await get(`${t.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("application/json; charset=utf-8");
    const body = JSON.parse(res.text) as { metrics: Record<string, number | null>; health_status: string; circuit_breaker_status: string };
    expect(body.metrics).toMatchObject({
      total_attempts: 5, successful_attempts: 4, failed_attempts: 1, min_time_ms: 40, max_time_ms: 1200,
      gpu_errors: 0, network_errors: 0, signature_errors: 1, validation_errors: 0, consecutive_failures: 1,
    });
    expect(body.metrics.average_time_ms).toBeCloseTo((40 + 41 + 42 + 43 + 1200) / 5);
    expect(body.metrics.last_successful_attempt).toBeCloseTo(Date.now() / 1000, -1);
    expect(body.metrics.attempts_per_second).toBeGreaterThan(0);
    expect(body.metrics.receipts_per_second).toBeGreaterThan(0);
    expect(body.circuit_breaker_status).toBe("half_open");
    expect(body.health_status).toBe("healthy");
  });

  it("GET /status has a 0..1 success rate, error counts and a secret-free config summary", async () => {
    const t = await start();
    exercise(t);
    t.metrics.setConfigSummary({ aggregator_url: "http://agg:8081/verify", worker_sk_hex: "00".repeat(32), max_retries: 3 });
    const body = JSON.parse((await get(`${t.url}/status`)).text) as Record<string, unknown>;
    expect(body).toMatchObject({
      health: "healthy", version: "9.9.9-test", device_did: "did:peaq:TEST", success_rate: 0.8, engine_ready: true,
      error_counts: { gpu_errors: 0, network_errors: 0, signature_errors: 1, validation_errors: 0 },
      config_summary: { aggregator_url: "http://agg:8081/verify", worker_sk_hex: "[redacted]", max_retries: 3 },
    });
    expect(JSON.stringify(body)).not.toContain("0000000000");
  });

  it("GET /health maps failures to statuses and is always 200; GET /ready gates on engine and critical", async () => {
    const t = await start();
    const health = async (): Promise<{ status: number; body: Record<string, unknown> }> => {
      const r = await get(`${t.url}/health`);
      return { status: r.status, body: JSON.parse(r.text) as Record<string, unknown> };
    };
    let h = await health();
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ status: "healthy", version: "9.9.9-test" });
    expect(typeof h.body.uptime_seconds).toBe("number");
    expect(new Date(String(h.body.timestamp)).getTime()).toBeCloseTo(Date.now(), -4);
    expect((await get(`${t.url}/ready`)).status).toBe(503); // no engine yet
    t.metrics.setEngineReady(true);
    expect((await get(`${t.url}/ready`)).status).toBe(200);

    const expected = new Map([[2, "degraded"], [5, "unhealthy"], [10, "critical"]]);
    for (let i = 1; i <= 10; i++) {
      t.metrics.attemptFailed({ durationMs: 1, errorClass: "gpu" });
      const want = expected.get(i);
      if (want) {
        h = await health();
        expect(h.status).toBe(200);
        expect(h.body.status).toBe(want);
      }
    }
    const ready = await get(`${t.url}/ready`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.text)).toMatchObject({ ready: false, status: "critical" });
    t.metrics.attemptSucceeded({ durationMs: 1, ops: 1 });
    expect((await get(`${t.url}/ready`)).status).toBe(200);
  });

  it("GET / is an HTML page linking every endpoint", async () => {
    const t = await start();
    const res = await get(`${t.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    for (const p of ["/prometheus", "/metrics", "/status", "/health", "/ready"]) expect(res.text).toContain(`href="${p}"`);
  });
});

describe("routing", () => {
  it("404s unknown paths and 405s wrong methods with Allow", async () => {
    const t = await start();
    expect((await get(`${t.url}/nope`)).status).toBe(404);
    expect((await get(`${t.url}/prometheus/extra`)).status).toBe(404);
    for (const method of ["POST", "PUT", "DELETE", "OPTIONS"]) {
      const r = await get(`${t.url}/prometheus`, { method });
      expect(r.status, method).toBe(405);
      expect(r.headers.allow).toBe("GET, HEAD");
    }
    expect((await get(`${t.url}/health`, { method: "POST" })).status).toBe(405);
  });

  it("answers HEAD like GET without a body", async () => {
    const t = await start();
    const r = await get(`${t.url}/prometheus`, { method: "HEAD" });
    expect(r.status).toBe(200);
    expect(r.raw.length).toBe(0);
    expect(Number(r.headers["content-length"])).toBeGreaterThan(100);
  });
});

describe("auth", () => {
  const user = "prom";
  const password = "correct horse";
  const token = "tok_0123456789abcdef";

  it("basic auth: 401 with a challenge unless the pair is right; probes stay open", async () => {
    const t = await start({ METRICS_AUTH_USER: user, METRICS_AUTH_PASSWORD: password });
    for (const path of ["/prometheus", "/metrics", "/status"]) {
      const none = await get(`${t.url}${path}`);
      expect(none.status, path).toBe(401);
      expect(none.headers["www-authenticate"]).toBe('Basic realm="tops-worker metrics", charset="UTF-8"');
      expect((await get(`${t.url}${path}`, { headers: { authorization: basic(user, "wrong") } })).status).toBe(401);
      expect((await get(`${t.url}${path}`, { headers: { authorization: basic("PROM", password) } })).status).toBe(401);
      expect((await get(`${t.url}${path}`, { headers: { authorization: `Bearer ${password}` } })).status).toBe(401);
      expect((await get(`${t.url}${path}`, { headers: { authorization: basic(user, password) } })).status, path).toBe(200);
    }
    for (const path of ["/", "/health"]) expect((await get(`${t.url}${path}`)).status, path).toBe(200);
    expect((await get(`${t.url}/ready`)).status).toBe(503); // open, just not ready
  });

  it("bearer token: right token passes, anything else is 401", async () => {
    const t = await start({ METRICS_AUTH_TOKEN: token });
    expect((await get(`${t.url}/prometheus`)).headers["www-authenticate"]).toBe('Bearer realm="tops-worker metrics"');
    expect((await get(`${t.url}/prometheus`, { headers: { authorization: `Bearer ${token}x` } })).status).toBe(401);
    expect((await get(`${t.url}/prometheus`, { headers: { authorization: `Bearer ${token.slice(0, -1)}` } })).status).toBe(401);
    expect((await get(`${t.url}/prometheus`, { headers: { authorization: token } })).status).toBe(401);
    expect((await get(`${t.url}/prometheus`, { headers: { authorization: `bearer ${token}` } })).status).toBe(200);
  });

  it("with both configured, either scheme works and both are offered", async () => {
    const t = await start({ METRICS_AUTH_USER: user, METRICS_AUTH_PASSWORD: password, METRICS_AUTH_TOKEN: token });
    const challenge = (await get(`${t.url}/metrics`)).headers["www-authenticate"];
    expect(challenge).toContain("Basic");
    expect(challenge).toContain("Bearer");
    expect((await get(`${t.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await get(`${t.url}/metrics`, { headers: { authorization: basic(user, password) } })).status).toBe(200);
  });

  it("never logs credentials", async () => {
    const lines: string[] = [];
    const logger = { info: (l: string) => lines.push(l), warn: (l: string) => lines.push(l) };
    const config = metricsConfigFromEnv({
      METRICS_HOST: "127.0.0.1", METRICS_PORT: "0", METRICS_AUTH_USER: user, METRICS_AUTH_PASSWORD: password, METRICS_AUTH_TOKEN: token,
    });
    const server = await startMetricsServer(createWorkerMetrics({ deviceDid: "d", version: "v" }), config, { logger });
    if (!server) throw new Error("no server");
    open.push(server);
    await get(`${server.url}/prometheus`, { headers: { authorization: basic(user, "guess") } });
    await get(`${server.url}/prometheus`, { headers: { authorization: `Bearer ${token}` } });
    expect(lines.some((l) => l.includes("auth: basic+bearer"))).toBe(true);
    expect(lines.join("\n")).not.toMatch(/correct horse|tok_0123|guess/);
  });
});

describe("protection", () => {
  it("rate-limits each client address with 429 and Retry-After", async () => {
    const t = await start({ METRICS_RATE_LIMIT_PER_SECOND: "0.5", METRICS_RATE_LIMIT_BURST: "3" });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await get(`${t.url}/health`)).status);
    expect(statuses).toEqual([200, 200, 200]);
    const limited = await get(`${t.url}/prometheus`);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    // Another loopback address is another client, with its own bucket.
    expect((await get(`${t.url}/health`, { localAddress: "127.0.0.2" })).status).toBe(200);
  });

  it("caps concurrent scrapes with 503, leaving probes alone", async () => {
    const t = await start({ METRICS_MAX_CONCURRENT_SCRAPES: "1" });
    let release = (): void => {};
    const gate = new Promise<void>((r) => { release = r; });
    let entered = (): void => {};
    const inCollect = new Promise<void>((r) => { entered = r; });
    // A real metric whose collect() blocks until released: holds one scrape in flight.
    new Gauge({
      name: "test_slow_collect", help: "blocks the scrape", registers: t.metrics.registry ? [t.metrics.registry] : [],
      async collect() { entered(); await gate; this.set(1); },
    });
    const first = get(`${t.url}/prometheus`);
    await inCollect;
    const second = await get(`${t.url}/prometheus`);
    expect(second.status).toBe(503);
    expect(second.headers["retry-after"]).toBe("1");
    expect((await get(`${t.url}/metrics`)).status).toBe(503); // JSON metrics count as scrapes too
    expect((await get(`${t.url}/health`)).status).toBe(200);
    release();
    expect((await first).status).toBe(200);
    expect((await get(`${t.url}/prometheus`)).status).toBe(200); // the slot was freed
  });

  it("drops a client that never finishes its request headers", async () => {
    const t = await start({ METRICS_REQUEST_TIMEOUT_MS: "600", METRICS_HEADERS_TIMEOUT_MS: "300" });
    const started = Date.now();
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(t.server.port, "127.0.0.1", () => socket.write("GET /prometheus HTTP/1.1\r\nHost: x\r\n"));
      let data = "";
      socket.on("data", (d: Buffer) => { data += d.toString(); });
      socket.on("close", () => resolve(data));
      socket.on("error", reject);
      setTimeout(() => { socket.destroy(); reject(new Error("server kept the slow client")); }, 5000);
    });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(reply).toMatch(/^HTTP\/1\.1 408/);
  });
});

describe("lifecycle", () => {
  it("binds port 0 to a real port and frees it on close()", async () => {
    const t = await startTestServer();
    expect(t.server.port).toBeGreaterThan(0);
    expect(t.url).toBe(`http://127.0.0.1:${t.server.port}`);
    expect((await get(`${t.url}/health`)).status).toBe(200);
    await t.server.close();
    await expect(get(`${t.url}/health`)).rejects.toThrow(/ECONNREFUSED/);
  });

  it("METRICS_ENABLED=0: null-object metrics and no server", async () => {
    const config = metricsConfigFromEnv({ METRICS_ENABLED: "0", METRICS_HOST: "127.0.0.1", METRICS_PORT: "0" });
    expect(config.enabled).toBe(false);
    const metrics = createWorkerMetrics({ enabled: config.enabled, deviceDid: "d", version: "v" });
    const servers = (): number => process.getActiveResourcesInfo().filter((r) => r === "TCPServerWrap").length;
    const before = servers();
    expect(await startMetricsServer(metrics, config)).toBeNull();
    // An enabled config with disabled metrics (or the reverse) starts nothing either.
    expect(await startMetricsServer(metrics, { ...config, enabled: true })).toBeNull();
    expect(servers()).toBe(before);
    expect(metrics.registry).toBeNull();
  });
});
