/**
 * `pnpm aggregator` / `pnpm --filter @tops/aggregator start`: configuration from the
 * environment (see README.md), JSON logs on stdout, clean stop on SIGINT/SIGTERM.
 * Exit codes: 0 stopped cleanly, 1 could not start or stop, 2 bad configuration.
 * Stopping takes at most the 10 s grace for requests in flight plus the final ledger flush.
 */
import { startAggregator, type RunningAggregator } from "./aggregator";
import { ConfigError, configFromEnv, type AggregatorConfig } from "./config";
import { createLogger } from "./log";

let config: AggregatorConfig;
try {
  config = configFromEnv(process.env);
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  process.stderr.write(`tops-aggregator: invalid configuration: ${e.message}\n`);
  process.exit(2);
}

const log = createLogger(config.logLevel);
let aggregator: RunningAggregator;
try {
  aggregator = await startAggregator(config, { logger: log });
} catch (e) {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof ConfigError) {
    // A path or value that cannot work (DATA_DIR that cannot be created, …): the same one line as any bad setting.
    process.stderr.write(`tops-aggregator: invalid configuration: ${message}\n`);
    process.exit(2);
  }
  log.fatal({ event: "start_failed", err: e }, message);
  process.stderr.write(`tops-aggregator: could not start: ${message}\n`);
  process.exit(1);
}

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    // A terminal's Ctrl-C reaches this process twice (directly and relayed by tsx); close() is bounded anyway.
    if (stopping) return;
    stopping = true;
    log.info({ event: "stopping", signal }, "stopping: finishing requests in flight");
    aggregator.close().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error({ event: "stop_failed", err: e }, "error while stopping");
        process.exit(1);
      },
    );
  });
}
