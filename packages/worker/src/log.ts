/** JSON logs (pino) with LOG_LEVEL. Secrets never reach a log call: config summaries are redacted first. */
import { pino, type DestinationStream, type Logger } from "pino";
import { envEnum, type Env } from "@tops/env";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export function createLogger(env: Env, destination: DestinationStream = process.stdout): Logger {
  const level = envEnum(env, "LOG_LEVEL", LOG_LEVELS, "info");
  return pino({ level, base: { service: "tops-worker" }, redact: ["secretKey", "*.secretKey", "WORKER_SK_HEX"] }, destination);
}
