/**
 * The worker's metrics HTTP server (node:http): /prometheus for scrapers, the Rust
 * worker's JSON endpoints for people and probes, and the protections in front of them.
 *
 * Order of checks per request: rate limit (every path, before any work) → route (404)
 * → method (405) → auth (metrics paths) → scrape concurrency cap (scrape paths) →
 * handler. Secrets are never logged: log lines name auth schemes, not credentials.
 */
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { createAuthenticator, type Authenticator } from "./auth";
import type { MetricsConfig } from "./config";
import { acceptsGzip, contentTypeOf, negotiateFormat, renderRegistry, type ExpositionFormat } from "./exposition";
import { createNameFilter, type NameFilter } from "./filter";
import { TokenBucketLimiter } from "./rate-limit";
import { healthView, metricsView, readyView, statusView } from "./views";
import type { WorkerMetrics } from "./worker-metrics";

const gzipAsync = promisify(gzip);

export interface MetricsServer {
  /** The bound port (the real one when the config asked for port 0). */
  readonly port: number;
  readonly host: string;
  /** Base URL for local clients, e.g. "http://127.0.0.1:8082". */
  readonly url: string;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

export interface MetricsLogger {
  info(message: string): void;
  warn(message: string): void;
}

export interface MetricsServerOptions {
  /** Where to report start-up and handler failures; silent by default. */
  readonly logger?: MetricsLogger;
}

interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly headers?: OutgoingHttpHeaders;
}

interface Route {
  /** Behind basic/bearer auth when configured. */
  readonly protected: boolean;
  /** Counts against METRICS_MAX_CONCURRENT_SCRAPES. */
  readonly scrape: boolean;
  readonly handle: (req: IncomingMessage, url: URL) => Promise<Reply> | Reply;
}

const JSON_TYPE = "application/json; charset=utf-8";
const ALLOW = "GET, HEAD";

function json(status: number, value: unknown, headers?: OutgoingHttpHeaders): Reply {
  return { status, contentType: JSON_TYPE, body: `${JSON.stringify(value)}\n`, ...(headers ? { headers } : {}) };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function landingPage(version: string): string {
  const link = (path: string, what: string): string => `<li><a href="${path}">${path}</a> — ${what}</li>`;
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>tops-worker metrics</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}li{margin:.4em 0}</style></head>
<body>
<h1>tops-worker ${escapeHtml(version)}</h1>
<ul>
${link("/prometheus", "Prometheus / OpenMetrics exposition")}
${link("/metrics", "performance metrics and statistics (JSON)")}
${link("/status", "status with error counts and configuration summary (JSON)")}
${link("/health", "health: healthy, degraded, unhealthy or critical (JSON)")}
${link("/ready", "readiness: 200 when ready, 503 otherwise (JSON)")}
</ul>
</body>
</html>
`;
}

/** ?format= overrides negotiation, so a scraper (or curl) can pin one format. */
function requestedFormat(req: IncomingMessage, url: URL): ExpositionFormat | "invalid" {
  const f = url.searchParams.get("format");
  if (f === null) return negotiateFormat(req.headers.accept);
  if (f === "openmetrics") return "openmetrics";
  if (f === "prometheus" || f === "text") return "prometheus";
  return "invalid";
}

function routes(metrics: WorkerMetrics, filter: NameFilter): ReadonlyMap<string, Route> {
  const registry = metrics.registry;
  return new Map<string, Route>([
    ["/", { protected: false, scrape: false, handle: () => ({ status: 200, contentType: "text/html; charset=utf-8", body: landingPage(metrics.snapshot().version), headers: { "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'" } }) }],
    ["/prometheus", {
      protected: true, scrape: true,
      handle: async (req, url) => {
        const format = requestedFormat(req, url);
        if (format === "invalid") return json(400, { error: "format must be openmetrics, prometheus or text" });
        const body = registry ? await renderRegistry(registry, format, filter) : "";
        return { status: 200, contentType: contentTypeOf(format), body, headers: { vary: "Accept, Accept-Encoding" } };
      },
    }],
    ["/metrics", { protected: true, scrape: true, handle: () => json(200, metricsView(metrics.snapshot())) }],
    ["/status", { protected: true, scrape: true, handle: () => json(200, statusView(metrics.snapshot())) }],
    // Always 200 while the process can answer: orchestrators restart on liveness failures,
    // and a worker with failing attempts is not fixed by a restart. /ready is the gate.
    ["/health", { protected: false, scrape: false, handle: () => json(200, healthView(metrics.snapshot())) }],
    ["/ready", {
      protected: false, scrape: false,
      handle: () => {
        const view = readyView(metrics.snapshot());
        return json(view.ready ? 200 : 503, view);
      },
    }],
  ]);
}

function displayHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}

/**
 * Starts the server, or returns null without binding anything when metrics are
 * disabled (METRICS_ENABLED=0, or a disabled WorkerMetrics).
 */
export async function startMetricsServer(
  metrics: WorkerMetrics, config: MetricsConfig, options: MetricsServerOptions = {},
): Promise<MetricsServer | null> {
  const log = options.logger;
  if (!config.enabled || !metrics.enabled) {
    log?.info("metrics: disabled, no server started");
    return null;
  }
  const table = routes(metrics, createNameFilter(config.include, config.exclude));
  const authenticator: Authenticator | null = config.auth ? createAuthenticator(config.auth) : null;
  const limiter = config.rateLimit ? new TokenBucketLimiter(config.rateLimit) : null;
  let scrapesInFlight = 0;

  const send = async (req: IncomingMessage, res: ServerResponse, reply: Reply): Promise<void> => {
    let body: Buffer = Buffer.from(reply.body, "utf8");
    const headers: OutgoingHttpHeaders = {
      "content-type": reply.contentType,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      // Any body may be gzipped, so caches must key on Accept-Encoding (routes may add Accept).
      vary: "Accept-Encoding",
      ...reply.headers,
    };
    if (body.length > 0 && acceptsGzip(req.headers["accept-encoding"])) {
      body = await gzipAsync(body);
      headers["content-encoding"] = "gzip";
    }
    headers["content-length"] = body.length;
    res.writeHead(reply.status, headers);
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (limiter) {
      const decision = limiter.take(req.socket.remoteAddress ?? "unknown");
      if (!decision.allowed) {
        return send(req, res, json(429, { error: "Too Many Requests" }, { "retry-after": String(decision.retryAfterSeconds) }));
      }
    }
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://metrics.invalid");
    } catch {
      return send(req, res, json(400, { error: "Bad Request" }));
    }
    const route = table.get(url.pathname);
    if (!route) return send(req, res, json(404, { error: "Not Found" }));
    if (req.method !== "GET" && req.method !== "HEAD") {
      return send(req, res, json(405, { error: "Method Not Allowed" }, { allow: ALLOW }));
    }
    if (route.protected && authenticator && !authenticator.check(req.headers.authorization)) {
      return send(req, res, json(401, { error: "Unauthorized" }, { "www-authenticate": [...authenticator.challenges] }));
    }
    if (route.scrape) {
      if (scrapesInFlight >= config.maxConcurrentScrapes) {
        return send(req, res, json(503, { error: "Too many concurrent scrapes" }, { "retry-after": "1" }));
      }
      scrapesInFlight++;
      // 'close' fires once the response is done or the client went away, whichever comes first.
      res.once("close", () => { scrapesInFlight--; });
    }
    return send(req, res, await route.handle(req, url));
  };

  const server = createServer({
    requestTimeout: config.requestTimeoutMs,
    headersTimeout: config.headersTimeoutMs,
    // Node checks the two timeouts above only this often (default 30 s), which would let a
    // slow client hold a socket far past its deadline.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(config.headersTimeoutMs / 2))),
  }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      log?.warn(`metrics: ${req.method ?? "?"} ${req.url ?? "?"} failed: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": JSON_TYPE });
        res.end(`${JSON.stringify({ error: "Internal Server Error" })}\n`);
      } else {
        res.destroy();
      }
    });
  });
  // A client that stops reading (or sending) mid-response is dropped after this much silence.
  server.setTimeout(config.requestTimeoutMs);

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: config.port, host: config.host }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // After start-up, a server error (e.g. out of file descriptors) must not crash the worker.
  server.on("error", (e) => log?.warn(`metrics: server error: ${e.message}`));
  const address = server.address() as AddressInfo;
  const url = `http://${displayHost(config.host)}:${address.port}`;
  const schemes = config.auth ? [config.auth.basic ? "basic" : null, config.auth.token ? "bearer" : null].filter(Boolean).join("+") : "none";
  log?.info(`metrics: listening on ${config.host}:${address.port} (auth: ${schemes})`);

  let closing: Promise<void> | null = null;
  return Object.freeze({
    port: address.port,
    host: config.host,
    url,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive scrapers would otherwise hold close() open for keepAliveTimeout.
        server.closeAllConnections();
      });
      return closing;
    },
  });
}
