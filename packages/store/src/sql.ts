/** The one thing both engines share: parameterised SQL text in, rows out. */
export type Row = Record<string, unknown>;

export interface Sql {
  query(text: string, params?: readonly unknown[]): Promise<Row[]>;
}

/** What the store needs from an engine. */
export interface Backend {
  /** Reads (and single-statement writes that need no durability wait). */
  readonly sql: Sql;
  /**
   * Runs `work` and resolves once its write is committed durably. `work` writes with ONE
   * statement (its other statements only read), so the write is one transaction on its own.
   * Postgres: that statement autocommits. Embedded: writes queued at the same time share one
   * transaction and one WAL sync (group commit); if one throws, the others are retried without it.
   */
  write<T>(work: (tx: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** SQLSTATE class (first two characters) → a metrics label. */
const SQLSTATE_CLASSES: Readonly<Record<string, string>> = {
  "08": "connection",
  "23": "constraint",
  "40": "transaction_rollback",
  "53": "insufficient_resources",
  "54": "program_limit",
  "57": "operator_intervention",
  "58": "system_error",
  XX: "internal",
  "22": "data_exception",
  "42": "syntax_or_access",
};

/** SQLite's primary result codes (better-sqlite3's error.code, before any "_" extension) → the same labels. */
const SQLITE_CLASSES: Readonly<Record<string, string>> = {
  CONSTRAINT: "constraint",
  BUSY: "transaction_rollback",
  LOCKED: "transaction_rollback",
  FULL: "insufficient_resources",
  NOMEM: "insufficient_resources",
  TOOBIG: "program_limit",
  IOERR: "system_error",
  CANTOPEN: "system_error",
  PERM: "system_error",
  READONLY: "system_error",
  CORRUPT: "internal",
  NOTADB: "internal",
  MISMATCH: "data_exception",
  RANGE: "data_exception",
  ERROR: "syntax_or_access",
};

/** Classifies a database error for the `error(class)` metric. */
export function errorClassOf(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === "string") {
    const sqlite = /^SQLITE_([A-Z]+)/.exec(code);
    if (sqlite?.[1]) return SQLITE_CLASSES[sqlite[1]] ?? `sqlite_${sqlite[1].toLowerCase()}`;
    if (/^[0-9A-Z]{5}$/.test(code)) return SQLSTATE_CLASSES[code.slice(0, 2)] ?? `sqlstate_${code.slice(0, 2).toLowerCase()}`;
    if (/^E[A-Z]+$/.test(code)) return "connection"; // ECONNREFUSED, ECONNRESET, ETIMEDOUT…
  }
  const message = e instanceof Error ? e.message : "";
  if (/terminat|connection|closed/i.test(message)) return "connection";
  return "other";
}

/** Wraps an Sql so that every failing statement is reported before it is rethrown. */
export function observed(sql: Sql, onError: (errorClass: string) => void): Sql {
  return {
    async query(text, params) {
      try {
        return await sql.query(text, params);
      } catch (e) {
        onError(errorClassOf(e));
        throw e;
      }
    },
  };
}
