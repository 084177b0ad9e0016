/**
 * One process per embedded database: a lock file holding the owner's pid. PGlite runs Postgres
 * in single-user mode, which does not guard its data directory against a second process; two
 * writers would corrupt it. A lock left by a process that died (kill -9) is taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export class DirLock {
  private constructor(readonly path: string) {}

  static acquire(path: string): DirLock {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, "wx", 0o600);
        try {
          writeSync(fd, `${process.pid}\n`);
        } finally {
          closeSync(fd);
        }
        return new DirLock(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      let owner = Number.NaN;
      try {
        owner = Number(readFileSync(path, "utf8").trim());
      } catch {
        // Removed meanwhile: try again.
      }
      if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && processAlive(owner)) {
        throw new Error(`the embedded database is open in process ${owner} (${path}); run one aggregator per DATA_DIR, or share a PostgreSQL server with DATABASE_URL`);
      }
      try {
        unlinkSync(path); // stale: its owner is gone
      } catch {
        // Another process took it over first; the next attempt decides.
      }
    }
    throw new Error(`could not lock ${path}`);
  }

  release(): void {
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone: nothing to release.
    }
  }
}
