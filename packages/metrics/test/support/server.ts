import { createWorkerMetrics, metricsConfigFromEnv, startMetricsServer, type MetricsServer, type WorkerMetrics } from "../../src/index";

export interface TestServer {
  readonly metrics: WorkerMetrics;
  readonly server: MetricsServer;
  readonly url: string;
}

/** A worker registry and its server on 127.0.0.1, an ephemeral port, generous rate limits unless overridden. */
export async function startTestServer(env: Record<string, string> = {}, metrics?: WorkerMetrics): Promise<TestServer> {
  const config = metricsConfigFromEnv({
    METRICS_HOST: "127.0.0.1",
    METRICS_PORT: "0",
    METRICS_RATE_LIMIT_PER_SECOND: "1000",
    METRICS_RATE_LIMIT_BURST: "1000",
    ...env,
  });
  const m = metrics ?? createWorkerMetrics({ deviceDid: "did:peaq:TEST", version: "9.9.9-test", staticLabels: config.staticLabels });
  const server = await startMetricsServer(m, config);
  if (!server) throw new Error("server did not start");
  return { metrics: m, server, url: server.url };
}
