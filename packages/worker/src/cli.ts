#!/usr/bin/env node
/**
 * tops-worker: run attempts until stopped (SIGINT/SIGTERM: the attempt in flight is finished or
 * spooled, then exit 0) or until MAX_ATTEMPTS. JSON logs on stdout; on a terminal, a live status
 * line instead. A bad setting stops it at once with one line naming the variable (exit 2).
 */
import { ConfigError } from "@tops/env";
import { createLogger } from "./log";
import { StatusLine } from "./status-line";
import { parseConfig, runWorker } from "./worker";

/** Signals closer together than this are one request to stop (see onSignal). */
const REPEAT_SIGNAL_MS = 1500;

async function main(): Promise<number> {
  const env = process.env;
  try {
    parseConfig(env);
    createLogger(env);
  } catch (e) {
    process.stderr.write(`tops-worker: configuration error: ${(e as Error).message}\n`);
    return 2;
  }
  const tty = process.stdout.isTTY === true && env.LOG_FORMAT !== "json";
  const status = tty ? new StatusLine(process.stdout) : undefined;
  // On a terminal, log lines go above the status line and only warnings and worse are shown.
  const log = createLogger(
    tty ? { ...env, LOG_LEVEL: env.LOG_LEVEL ?? "warn" } : env,
    status ? { write: (line: string) => status.print(humanLine(line)) } : process.stdout,
  );

  const stop = new AbortController();
  let firstSignalAt: number | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    const now = Date.now();
    if (firstSignalAt === undefined) {
      firstSignalAt = now;
      log.info({ event: "signal", signal: sig }, `${sig}: finishing the attempt in flight, then stopping`);
      status?.print(`${sig}: finishing the attempt in flight, then stopping (press Ctrl-C again to exit at once)`);
      stop.abort();
      return;
    }
    // One Ctrl-C reaches this process several times: from the terminal (the whole process group)
    // and relayed by pnpm or an orchestrator. Only a signal a person sends later means "now".
    if (now - firstSignalAt < REPEAT_SIGNAL_MS) return;
    process.stderr.write(`tops-worker: second ${sig}, exiting now\n`);
    process.exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  status?.start();
  try {
    await runWorker({
      env, log, signal: stop.signal, onEvent: (e) => status?.onEvent(e), onBreaker: (s) => status?.setBreaker(s),
      onStarted: ({ publicKey, metricsUrl }) => {
        status?.print(`tops-worker: public key ${publicKey}`);
        if (metricsUrl) status?.print(`metrics at ${metricsUrl}`);
      },
    });
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`tops-worker: configuration error: ${e.message}\n`);
      return 2;
    }
    log.fatal({ event: "fatal", err: { message: (e as Error).message, name: (e as Error).name } }, `tops-worker stopped: ${(e as Error).message}`);
    return 1;
  } finally {
    status?.stop();
  }
}

/** A pino JSON line as a short human line: "warn  attempt failed …". */
function humanLine(jsonLine: string): string {
  try {
    const o = JSON.parse(jsonLine) as { level: number; msg: string };
    const level = ({ 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" } as Record<number, string>)[o.level] ?? "log";
    return `${level.padEnd(5)} ${o.msg}`;
  } catch {
    return jsonLine.trimEnd();
  }
}

const code = await main();
process.exitCode = code;
// The process ends by itself once the engine has released the GPU; should anything still hold
// the event loop open, do not hang a supervisor: exit anyway shortly after.
setTimeout(() => process.exit(code), 5000).unref();
