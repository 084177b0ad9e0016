/**
 * Wires a running worker from its configuration: metrics exporter first (so /health answers
 * while the GPU starts), then the engine, the autotuner, the spool and the loop.
 */
import type { Logger } from "pino";
import { createWorkerMetrics, metricsConfigFromEnv, startMetricsServer, type WorkerMetrics } from "@tops/metrics";
import { AggregatorClient } from "./aggregator-client";
import { CircuitBreaker } from "./circuit-breaker";
import { workerConfigFromEnv } from "./config";
import { Autotuner, createEngine, createThreadedEngine, engineConfigFromEnv, type Engine } from "./engine";
import { redactUrl, type Env } from "@tops/env";
import { WorkerLoop, type LoopEvent, type LoopSummary } from "./loop";
import { AttemptMemory, RowOpener } from "./openings";
import { createRowKernel, type RowKernel } from "@tops/rowkernel";
import { RateLimiter } from "./rate-limiter";
import { Spool } from "./spool";

export const WORKER_VERSION = "0.1.0";

export interface RunWorkerOptions {
  readonly env: Env;
  readonly log: Logger;
  readonly signal: AbortSignal;
  /** Extra sink for loop events (the terminal status line). */
  readonly onEvent?: (e: LoopEvent) => void;
  readonly onBreaker?: (state: "closed" | "open" | "half_open") => void;
  /** Called once the exporter is up: what a person at a terminal needs to see first. */
  readonly onStarted?: (info: { readonly publicKey: string; readonly metricsUrl: string | undefined }) => void;
}

/** Parses every part's configuration up front, so a bad variable stops the worker before anything starts. */
export function parseConfig(env: Env) {
  return { worker: workerConfigFromEnv(env), engine: engineConfigFromEnv(env), metrics: metricsConfigFromEnv(env) };
}

export async function runWorker({ env, log, signal, onEvent, onBreaker, onStarted }: RunWorkerOptions): Promise<LoopSummary> {
  const config = parseConfig(env);
  const { worker } = config;
  log.info({ event: "start", publicKey: worker.publicKeyHex, deviceDid: worker.deviceDid, aggregator: redactUrl(worker.verifyUrl) }, `tops-worker ${WORKER_VERSION}: public key ${worker.publicKeyHex}`);

  const metrics: WorkerMetrics = createWorkerMetrics({
    enabled: config.metrics.enabled, deviceDid: worker.deviceDid, version: WORKER_VERSION, staticLabels: config.metrics.staticLabels,
  });
  metrics.setConfigSummary({
    deviceDid: worker.deviceDid, aggregatorUrl: redactUrl(worker.verifyUrl), challengeUrl: redactUrl(worker.challengeUrl), backend: config.engine.backend,
    autotune: !config.engine.autotune.disabled, autotuneTargetMs: config.engine.autotune.targetMs, maxRetries: worker.maxRetries,
    rateLimit: worker.rateLimit, maxAttempts: worker.maxAttempts, spoolDir: worker.spoolDir, spoolMax: worker.spoolMax, publicKey: worker.publicKeyHex,
  });
  const server = await startMetricsServer(metrics, config.metrics, {
    logger: { info: (m) => log.info({ event: "metrics" }, m), warn: (m) => log.warn({ event: "metrics" }, m) },
  });
  if (server) log.info({ event: "metrics", url: server.url }, `metrics at ${server.url}/prometheus`);
  onStarted?.({ publicKey: worker.publicKeyHex, metricsUrl: server ? `${server.url}/prometheus` : undefined });

  let engine: Engine | undefined;
  let rowKernel: RowKernel | undefined;
  try {
    const start = config.engine.thread ? createThreadedEngine : createEngine;
    engine = await start({ backend: config.engine.backend, variant: config.engine.variant, log: (line) => log.info({ event: "engine" }, line) });
    log.info({ event: "engine", backend: engine.backend, adapter: engine.adapter, selection: engine.selection }, `engine: ${engine.backend} (${engine.driverHint})`);
    metrics.setInfo({ backend: engine.backend, adapter: engine.driverHint, kernelVer: engine.kernelVer });
    metrics.setEngineReady(true);

    const { autotune } = config.engine;
    const tuner = new Autotuner({
      presets: autotune.presets, targetMs: autotune.targetMs, disabled: autotune.disabled, fixedSizes: autotune.fixedSizes,
      log: (line) => log.info({ event: "autotune" }, line),
    });
    const spool = await Spool.open(worker.spoolDir, worker.spoolMax);
    if (spool.size > 0) log.info({ event: "spool", queued: spool.size }, `${spool.size} spooled receipts to resubmit`);
    const breaker = new CircuitBreaker({
      threshold: worker.breakerThreshold, cooldownMs: worker.breakerCooldownMs,
      onChange: (state) => {
        metrics.setBreakerState(state);
        onBreaker?.(state);
        log.warn({ event: "breaker", state }, `circuit breaker ${state}`);
      },
    });
    const memory = new AttemptMemory(worker.openingsMemoryBytes);
    rowKernel = await createRowKernel();
    log.info({ event: "row_kernel", kernel: rowKernel.name }, `audit rows computed with ${rowKernel.name}`);
    const rows = rowKernel;
    const loop = new WorkerLoop({
      memory, opener: new RowOpener(memory, engine, (seed, sizes, r) => rows.rows(seed, sizes, r)), staticChallenge: worker.staticChallenge,
      deviceDid: worker.deviceDid, secretKey: worker.secretKey, maxRetries: worker.maxRetries,
      backoff: { baseMs: worker.retryBaseMs, maxMs: worker.retryMaxMs }, maxAttempts: worker.maxAttempts,
      engine, sizes: tuner, breaker, spool, metrics, rateLimiter: new RateLimiter(worker.rateLimit),
      client: new AggregatorClient({
        verifyUrl: worker.verifyUrl, challengeUrl: worker.challengeUrl, timeoutMs: worker.requestTimeoutMs,
        onLatency: (ms) => metrics.networkLatency(ms),
      }),
      onEvent: (e) => {
        logEvent(log, e);
        onEvent?.(e);
      },
    });
    const summary = await loop.run(signal);
    log.info({ event: "stop", ...summary }, `stopped after ${summary.attempts} attempts (${summary.accepted} accepted, ${summary.spooled} spooled)`);
    return summary;
  } finally {
    metrics.setEngineReady(false);
    await rowKernel?.close();
    await engine?.destroy();
    await server?.close();
  }
}

function logEvent(log: Logger, e: LoopEvent): void {
  switch (e.type) {
    case "signed":
      log.debug({ event: e.type, nonce: e.nonce, epochId: e.epochId, sizes: e.sizes, timeMs: e.timeMs }, "receipt signed");
      break;
    case "accepted":
      log.info({ event: e.type, nonce: e.nonce, sizes: e.sizes, timeMs: e.timeMs, ops: e.ops }, "receipt accepted");
      break;
    case "failed":
      log.warn({ event: e.type, errorClass: e.errorClass, code: e.code, nonce: e.nonce }, `attempt failed (${e.errorClass}): ${e.code} ${e.message}`);
      break;
    case "spooled":
      log.warn({ event: e.type, nonce: e.nonce, queued: e.queued, dropped: e.dropped }, "receipt spooled for resubmission");
      break;
    case "resubmitted":
      log.info({ event: e.type, id: e.id, nonce: e.nonce, outcome: e.outcome, code: e.code }, `spooled receipt ${e.outcome}`);
      break;
    case "audit":
      log.info({ event: e.type, nonce: e.nonce, rows: e.rows, outcome: e.outcome, code: e.code }, `audit of nonce ${e.nonce} answered (${e.rows} rows): ${e.outcome}`);
      break;
    case "static_challenge":
      log.warn({ event: e.type, epochId: e.epochId, reason: e.reason }, `the aggregator has no challenge endpoint (${e.reason}); working on the static challenge EPOCH_ID=${e.epochId}, PREV_HASH_HEX`);
      break;
  }
}
