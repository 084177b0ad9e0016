/**
 * startAggregator(): opens DATA_DIR (epoch secret, quarantine list, ledger → replay guard),
 * starts the row checker and the HTTP server, and returns where it listens and how to stop it.
 */
import { ensureDirectory } from "@tops/env";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { maxOpeningsBytes } from "@tops/protocol";
import { AuditPolicy } from "./audit-policy";
import { configSummary, type AggregatorConfig } from "./config";
import { EpochSchedule, loadOrCreateEpochSecret } from "./epochs";
import { createRequestHandler, type HealthReport } from "./http";
import { Ledger } from "./ledger";
import { createLogger, type Logger } from "./log";
import { AggregatorMetricsRegistry } from "./metrics";
import { Quarantine } from "./quarantine";
import { ReplayGuard } from "./replay";
import { createMainThreadRowChecker, ThreadPoolRowChecker, type RowChecker } from "./row-checker";
import { NodeSignatureVerifier } from "./signature";
import { VerifyPipeline } from "./verify";

export interface StartOptions {
  /** Unix milliseconds; tests move time to cross epochs and quarantines. */
  readonly clock?: () => number;
  /** Defaults to JSON lines on stdout at config.logLevel. */
  readonly logger?: Logger;
  /** Replaces the reference row checker (tests, or a faster kernel). Closed by close(). */
  readonly checker?: RowChecker;
  /** How long close() lets requests in flight finish before cutting connections. Default 10 s. */
  readonly shutdownGraceMs?: number;
}

export interface RunningAggregator {
  /** Base URL a client on this machine can use, e.g. http://127.0.0.1:8081 (0.0.0.0 becomes 127.0.0.1). */
  readonly url: string;
  /** The bound port (the real one when config.port is 0). */
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** Stops accepting, lets requests in flight finish (at most the grace period), flushes the ledger, stops the row checker. Idempotent. */
  close(): Promise<void>;
}

function clientUrl(host: string, port: number): string {
  const reachable = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${reachable.includes(":") ? `[${reachable}]` : reachable}:${port}`;
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

export async function startAggregator(config: AggregatorConfig, options: StartOptions = {}): Promise<RunningAggregator> {
  const clock = options.clock ?? Date.now;
  const log = options.logger ?? createLogger(config.logLevel);

  ensureDirectory(config.dataDir, "DATA_DIR");
  const secret = loadOrCreateEpochSecret(config.dataDir);
  if (secret.created) log.info({ event: "epoch_secret_created", dataDir: config.dataDir }, "created a new epoch secret");
  if (secret.modeRepaired) log.warn({ event: "epoch_secret_mode_repaired" }, "the epoch secret was readable by others; its mode is now 0600");
  const epochs = new EpochSchedule(secret.secret, config.epochSeconds);

  const replay = new ReplayGuard();
  replay.advanceTo(epochs.epochAt(clock()));
  const { quarantine, report: quarantineReport } = await Quarantine.open(config.dataDir);
  let ledger: Ledger;
  try {
    const opened = await Ledger.open(config.dataDir, ({ key, seq, audited }) => replay.set(key, { kind: "stored", seq, audited }));
    ledger = opened.ledger;
    if (opened.report.repairedBytes > 0) {
      log.warn({ event: "ledger_repaired", path: ledger.path, truncatedBytes: opened.report.repairedBytes }, "the ledger ended in a torn line (a crash during a write); it was truncated");
    }
  } catch (e) {
    await quarantine.close();
    throw e;
  }
  if (quarantineReport.repairedBytes > 0) {
    log.warn({ event: "quarantine_repaired", truncatedBytes: quarantineReport.repairedBytes }, "the quarantine list ended in a torn line; it was truncated");
  }
  log.info({ event: "ledger_loaded", entries: ledger.size, replayEntries: replay.size, quarantinedKeys: quarantine.activeCount(clock()) }, "ledger loaded");

  const checker = options.checker
    ?? (config.auditThreads > 0 && config.auditRate > 0
      ? new ThreadPoolRowChecker(config.auditThreads, config.auditQueueMax, config.auditKernel)
      : await createMainThreadRowChecker(config.auditKernel));
  const metrics = new AggregatorMetricsRegistry();
  const audits = new AuditPolicy(secret.secret, { rate: config.auditRate, rows: config.auditRows, timeoutMs: config.auditTimeoutMs });
  const pipeline = new VerifyPipeline({
    policy: config, audits, epochs, replay, ledger, quarantine, checker, metrics, log, clock,
    signatures: new NodeSignatureVerifier(),
  });

  const health = (): HealthReport => {
    const failure = ledger.failed;
    return {
      ok: failure === null,
      ...(failure ? { reason: `ledger write failed: ${failure.message}; restart to repair` } : {}),
      epoch_id: epochs.epochAt(clock()),
      ledger_entries: ledger.size,
      replay_entries: replay.size,
      quarantined_keys: quarantine.activeCount(clock()),
      allowed_keys: config.allowedKeys === null ? "any" : config.allowedKeys.size,
      audit_rate: config.auditRate,
      audit_rows: config.auditRows,
      audits_pending: pipeline.pendingAudits,
      audits_queued: checker.queued,
      auditor: checker.name,
    };
  };

  const server = createServer({
    requestTimeout: config.requestTimeoutMs,
    headersTimeout: config.headersTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // Timeouts are enforced by a periodic sweep; Node's default (30 s) would let them slip by that much.
    connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
    maxHeaderSize: 16 * 1024,
  }, createRequestHandler({
    pipeline, epochs, metrics, log, clock, health, maxBodyBytes: config.maxBodyBytes,
    maxOpeningsBytes: maxOpeningsBytes({ m: config.maxDim, n: config.maxDim, k: config.maxDim, batch: config.maxBatch }, config.auditRows),
  }));
  server.maxHeadersCount = 100;

  let address: AddressInfo;
  try {
    address = await listen(server, config.port, config.host);
  } catch (e) {
    await Promise.allSettled([ledger.close(), quarantine.close(), checker.close()]);
    throw e;
  }
  const url = clientUrl(config.host, address.port);

  if (config.allowedKeys === null) {
    log.warn({ event: "dev_mode" }, "DEV MODE: neither ALLOWED_KEYS nor ALLOWED_KEYS_FILE is set, so receipts signed by ANY key are accepted; set one in production");
  } else if (config.allowedKeys.size === 0) {
    log.warn({ event: "empty_allow_list" }, "the allow list is empty: every receipt will be refused with KEY_NOT_ALLOWED");
  }
  log.info({ event: "listening", url, host: config.host, port: address.port, auditor: checker.name, config: configSummary(config) }, `aggregator listening on ${url}`);

  let closing: Promise<void> | null = null;
  const graceMs = options.shutdownGraceMs ?? 10_000;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), graceMs);
      });
      // New audits are not issued while stopping; those waiting for openings stop counting down (nothing is refused for our stop).
      pipeline.stop();
      if ((await Promise.race([drained, graceOver])) === "timeout") {
        // Cut what is left; row checks still running are abandoned (their receipts answered 503, not stored).
        server.closeAllConnections();
        await checker.close();
      }
      clearTimeout(timer);
      // Appends already queued still reach the disk before the ledger closes.
      await pipeline.drain();
      await Promise.allSettled([checker.close(), ledger.close(), quarantine.close()]);
      log.info({ event: "stopped" }, "aggregator stopped");
    })();
    return closing;
  };

  return { url, port: address.port, host: config.host, dataDir: config.dataDir, close };
}
