/**
 * startAggregator(): opens the store (embedded database under DATA_DIR, or PostgreSQL at
 * DATABASE_URL; a JSON-lines ledger from before is imported once), starts the row checker and
 * the HTTP server, and returns where it listens and how to stop it. Start-up reads no receipts.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ensureDirectory } from "@tops/env";
import { attemptOps, maxOpeningsBytes } from "@tops/protocol";
import { importJsonl, openStore, type ReceiptStore } from "@tops/store";
import { AuditPolicy } from "./audit-policy";
import { configSummary, type AggregatorConfig } from "./config";
import { EpochSchedule } from "./epochs";
import { createRequestHandler, type HealthReport } from "./http";
import { createLogger, type Logger } from "./log";
import { AggregatorMetricsRegistry } from "./metrics";
import { StoreQuarantine } from "./quarantine";
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
  /**
   * Replaces the store openStore would open from the config (the benchmark's JSON-lines baseline).
   * No JSON-lines import runs on it. Closed by close().
   */
  readonly store?: ReceiptStore;
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
  /** Stops accepting, lets requests in flight finish (at most the grace period), closes the store, stops the row checker. Idempotent. */
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
  const metrics = new AggregatorMetricsRegistry();
  const store = options.store ?? await openStore({
    dataDir: config.dataDir,
    ...(config.databaseUrl
      ? { databaseUrl: config.databaseUrl }
      : { embeddedThread: config.embeddedDbThread, ...(config.embeddedEngine ? { embeddedEngine: config.embeddedEngine } : {}) }),
    observer: { commit: (ms) => metrics.dbCommit(ms), error: (errorClass) => metrics.dbError(errorClass) },
    log: (event, fields) => log.info({ event, ...fields }, event),
  });
  let epochs: EpochSchedule;
  let epochSecret: Uint8Array;
  try {
    // Files of the JSON-lines ledger (before the database) come in once, then are renamed *.imported.
    const imported = options.store ? null : await importJsonl(store, config.dataDir, { opsOf: (r) => attemptOps(r.sizes), log: (event, fields) => log.info({ event, ...fields }, event) });
    if (imported && (imported.imported || imported.epochSecret)) {
      log.info({ event: "ledger_imported", receipts: imported.receipts, quarantine: imported.quarantine, repaired: imported.repaired, epochSecret: imported.epochSecret },
        `imported ${imported.receipts} receipts and ${imported.quarantine} quarantine records from the JSON-lines ledger`);
    }
    epochSecret = await store.epochSecret(() => randomBytes(32));
    epochs = new EpochSchedule(epochSecret, config.epochSeconds);
  } catch (e) {
    await store.close();
    throw e;
  }
  const replay = new ReplayGuard();
  replay.advanceTo(epochs.epochAt(clock()));
  log.info({ event: "store_opened", engine: store.engine, storedReceipts: await store.storedReceipts() }, `receipts stored in ${store.engine === "postgres" ? "PostgreSQL" : "the embedded database"}`);
  let quarantine: StoreQuarantine;
  try {
    quarantine = await StoreQuarantine.open(store, {
      refreshMs: config.quarantineRefreshMs,
      clock,
      onRefreshError: (e) => log.warn({ event: "quarantine_refresh_failed", err: e }, "could not read the quarantine list again; the store still refuses quarantined keys at commit"),
    });
  } catch (e) {
    await store.close();
    throw e;
  }

  const checker = options.checker
    ?? (config.auditThreads > 0 && config.auditRate > 0
      ? new ThreadPoolRowChecker(config.auditThreads, config.auditQueueMax, config.auditKernel)
      : await createMainThreadRowChecker(config.auditKernel));
  metrics.readFrom({ storedReceipts: () => store.storedReceipts(), quarantinedKeys: () => store.quarantinedKeys(clock()) });
  const audits = new AuditPolicy(epochSecret, { rate: config.auditRate, rows: config.auditRows, timeoutMs: config.auditTimeoutMs });
  const pipeline = new VerifyPipeline({
    policy: config, audits, epochs, replay, store, quarantine, checker, metrics, log, clock,
    signatures: new NodeSignatureVerifier(),
  });

  const health = async (): Promise<HealthReport> => {
    let counts: { stored: number; quarantined: number } | undefined;
    let failure: string | undefined;
    try {
      counts = { stored: await store.storedReceipts(), quarantined: await store.quarantinedKeys(clock()) };
    } catch (e) {
      failure = e instanceof Error ? e.message : String(e);
    }
    return {
      ok: failure === undefined,
      ...(failure ? { reason: `the ${store.engine} database does not answer: ${failure}` } : {}),
      store: store.engine,
      epoch_id: epochs.epochAt(clock()),
      ledger_entries: counts?.stored ?? null,
      replay_entries: replay.size,
      quarantined_keys: counts?.quarantined ?? null,
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
    pipeline, epochs, metrics, log, clock, health, store, maxBodyBytes: config.maxBodyBytes,
    maxOpeningsBytes: maxOpeningsBytes({ m: config.maxDim, n: config.maxDim, k: config.maxDim, batch: config.maxBatch }, config.auditRows),
  }));
  server.maxHeadersCount = 100;

  let address: AddressInfo;
  try {
    address = await listen(server, config.port, config.host);
  } catch (e) {
    quarantine.close();
    await Promise.allSettled([store.close(), checker.close()]);
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
      // Accepts already started still commit before the store closes.
      await pipeline.drain();
      await Promise.allSettled([checker.close()]);
      quarantine.close();
      await store.close();
      log.info({ event: "stopped" }, "aggregator stopped");
    })();
    return closing;
  };

  return { url, port: address.port, host: config.host, dataDir: config.dataDir, close };
}
