/**
 * startAggregator(): opens DATA_DIR (epoch secret, quarantine list, ledger → replay guard),
 * starts the auditor and the HTTP server, and returns where it listens and how to stop it.
 */
import { mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ThreadPoolAuditor } from "./audit-pool";
import { createReferenceAuditor, type Auditor } from "./auditor";
import { configSummary, type AggregatorConfig } from "./config";
import { EpochSchedule, loadOrCreateEpochSecret } from "./epochs";
import { createRequestHandler, type HealthReport } from "./http";
import { Ledger } from "./ledger";
import { createLogger, type Logger } from "./log";
import { AggregatorMetricsRegistry } from "./metrics";
import { Quarantine } from "./quarantine";
import { ReplayGuard } from "./replay";
import { NodeSignatureVerifier } from "./signature";
import { VerifyPipeline } from "./verify";

export interface StartOptions {
  /** Unix milliseconds; tests move time to cross epochs and quarantines. */
  readonly clock?: () => number;
  /** Defaults to JSON lines on stdout at config.logLevel. */
  readonly logger?: Logger;
  /** Replaces the reference auditor (e.g. engineAuditor over a GPU engine). Closed by close(). */
  readonly auditor?: Auditor;
  /** Replaces the random AUDIT_RATE choice (tests). */
  readonly shouldAudit?: () => boolean;
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
  /** Stops accepting, lets requests in flight finish, flushes the ledger, stops the auditor. Idempotent. */
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

  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const secret = loadOrCreateEpochSecret(config.dataDir);
  if (secret.created) log.info({ event: "epoch_secret_created", dataDir: config.dataDir }, "created a new epoch secret");
  if (secret.modeRepaired) log.warn({ event: "epoch_secret_mode_repaired" }, "the epoch secret was readable by others; its mode is now 0600");
  const epochs = new EpochSchedule(secret.secret, config.epochSeconds);

  const replay = new ReplayGuard();
  replay.advanceTo(epochs.epochAt(clock()));
  const { quarantine, report: quarantineReport } = await Quarantine.open(config.dataDir);
  let ledger: Ledger;
  try {
    const opened = await Ledger.open(config.dataDir, (key) => replay.record(key));
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

  const auditor = options.auditor
    ?? (config.auditThreads > 0 && config.auditRate > 0 ? new ThreadPoolAuditor(config.auditThreads, config.auditQueueMax) : createReferenceAuditor());
  const metrics = new AggregatorMetricsRegistry();
  const pipeline = new VerifyPipeline({
    policy: config, epochs, replay, ledger, quarantine, auditor, metrics, log, clock,
    signatures: new NodeSignatureVerifier(),
    ...(options.shouldAudit ? { shouldAudit: options.shouldAudit } : {}),
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
      auditor: auditor.name,
    };
  };

  const server = createServer({
    requestTimeout: config.requestTimeoutMs,
    headersTimeout: config.headersTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // Timeouts are enforced by a periodic sweep; Node's default (30 s) would let them slip by that much.
    connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
    maxHeaderSize: 16 * 1024,
  }, createRequestHandler({ pipeline, epochs, metrics, log, clock, maxBodyBytes: config.maxBodyBytes, health }));
  server.maxHeadersCount = 100;

  let address: AddressInfo;
  try {
    address = await listen(server, config.port, config.host);
  } catch (e) {
    await Promise.allSettled([ledger.close(), quarantine.close(), auditor.close()]);
    throw e;
  }
  const url = clientUrl(config.host, address.port);

  if (config.allowedKeys === null) {
    log.warn({ event: "dev_mode" }, "DEV MODE: neither ALLOWED_KEYS nor ALLOWED_KEYS_FILE is set, so receipts signed by ANY key are accepted; set one in production");
  } else if (config.allowedKeys.size === 0) {
    log.warn({ event: "empty_allow_list" }, "the allow list is empty: every receipt will be refused with KEY_NOT_ALLOWED");
  }
  log.info({ event: "listening", url, host: config.host, port: address.port, auditor: auditor.name, config: configSummary(config) }, `aggregator listening on ${url}`);

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
      if ((await Promise.race([drained, graceOver])) === "timeout") {
        // Cut what is left; audits still running are abandoned (their receipts answered 503, not stored).
        pipeline.stop();
        server.closeAllConnections();
        await auditor.close();
      }
      clearTimeout(timer);
      pipeline.stop();
      // Appends already queued still reach the disk before the ledger closes.
      await pipeline.drain();
      await Promise.allSettled([auditor.close(), ledger.close(), quarantine.close()]);
      log.info({ event: "stopped" }, "aggregator stopped");
    })();
    return closing;
  };

  return { url, port: address.port, host: config.host, dataDir: config.dataDir, close };
}
