/**
 * Versioned schema migrations: migrations/NNNN_name.sql in this package, applied in order at
 * start, each in its own transaction together with its row in schema_migrations. A session-level
 * advisory lock serialises processes that start at the same time: the second waits, then finds
 * everything applied.
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Row } from "./sql";
import { toSafeInteger } from "./numbers";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../migrations/", import.meta.url));
/** pg_advisory_lock key: an arbitrary constant that names "tops store migrations". */
const MIGRATION_LOCK_KEY = 7_402_151_001;

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** One connection (not a pool: the advisory lock belongs to the session). */
export interface MigrationConnection {
  query(text: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Runs one or more statements without parameters. */
  exec(text: string): Promise<void>;
}

export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const migrations = readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((file) => {
      const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
      if (!m?.[1] || !m[2]) throw new Error(`migration file ${file} is not named NNNN_name.sql`);
      return { version: Number(m[1]), name: m[2], sql: readFileSync(`${dir}/${file}`, "utf8") };
    });
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations must be numbered 1, 2, 3… without gaps; found ${m.version} at position ${i + 1}`);
  });
  return migrations;
}

/** The migrations not applied yet, in order; refuses a database newer than this build (both engines' migrate). */
export function pendingMigrations(migrations: readonly Migration[], appliedVersions: readonly number[]): Migration[] {
  const applied = new Set(appliedVersions);
  const newest = Math.max(0, ...applied);
  if (newest > migrations.length) {
    throw new Error(`the database is at schema version ${newest}, newer than this build knows (${migrations.length}); run a newer aggregator`);
  }
  return migrations.filter((m) => !applied.has(m.version));
}

/** Applies the missing migrations; returns the versions it applied. */
export async function migrate(conn: MigrationConnection, migrations: readonly Migration[] = loadMigrations()): Promise<number[]> {
  await conn.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
  try {
    await conn.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT    NOT NULL,
      applied_at BIGINT  NOT NULL
    )`);
    const rows = await conn.query("SELECT version FROM schema_migrations ORDER BY version");
    const done: number[] = [];
    for (const m of pendingMigrations(migrations, rows.map((r) => toSafeInteger(r.version, "schema_migrations.version")))) {
      await conn.exec("BEGIN");
      try {
        await conn.exec(m.sql);
        await conn.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", [m.version, m.name, Date.now()]);
        await conn.exec("COMMIT");
      } catch (e) {
        await conn.exec("ROLLBACK");
        throw new Error(`migration ${m.version}_${m.name} failed: ${(e as Error).message}`, { cause: e });
      }
      done.push(m.version);
    }
    return done;
  } finally {
    await conn.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]);
  }
}
