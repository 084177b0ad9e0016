export * from "./types";
export { openStore } from "./open";
export { importJsonl, LEDGER_FILE, QUARANTINE_FILE, EPOCH_SECRET_FILE, type ImportOptions, type ImportReport } from "./import";
export { CorruptFileError } from "./jsonl-read";
export { MAX_PAGE, MAX_DEVICES, MAX_WINDOW_MS } from "./query-checks";
export { loadMigrations, MIGRATIONS_DIR } from "./migrate";
