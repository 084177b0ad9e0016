/** JSON logs on stdout (pino). Nothing secret is ever passed to a log call: the epoch secret stays in epochs.ts. */
import { pino, type Logger } from "pino";
import type { LogLevel } from "./config";

export type { Logger };

export function createLogger(level: LogLevel, destination: NodeJS.WritableStream = process.stdout): Logger {
  return pino({ level, base: { service: "tops-aggregator" } }, destination);
}
