/**
 * One process per embedded database: a lock file naming the owner. PGlite runs Postgres in
 * single-user mode, which does not guard its data directory against a second process; two
 * writers would corrupt it. A lock whose owner is gone (kill -9, a container restarted with the
 * same pid) is taken over: the owner is identified by pid AND its start time (/proc/PID/stat),
 * so a recycled pid does not look like the old owner.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";

/** Held by this thread (a quick answer; other threads are caught by the pid + start time check). */
const heldHere = new Set<string>();

/** The process's start time in clock ticks since boot (Linux), or "" where /proc is absent. */
function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22; fields after the ")" that closes the command name are space-separated.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" && process.platform === "linux" ? null : "";
  }
}

function ownerAlive(pid: number, startTime: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const now = startTimeOf(pid);
  return now === null ? false : startTime === "" || now === "" || now === startTime;
}

export class DirLock {
  private constructor(readonly path: string) {}

  static acquire(path: string): DirLock {
    if (heldHere.has(path)) throw new Error(`the embedded database is already open in this process (${path})`);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, "wx", 0o600);
        try {
          writeSync(fd, `${process.pid} ${startTimeOf(process.pid) ?? ""}\n`);
        } finally {
          closeSync(fd);
        }
        heldHere.add(path);
        return new DirLock(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      let owner = Number.NaN;
      let startTime = "";
      try {
        const [pid, start] = readFileSync(path, "utf8").trim().split(" ");
        owner = Number(pid);
        startTime = start ?? "";
      } catch {
        // Removed meanwhile: try again.
      }
      if (Number.isSafeInteger(owner) && owner > 0 && ownerAlive(owner, startTime)) {
        if (owner === process.pid) throw new Error(`the embedded database is already open in this process (${path})`);
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
    heldHere.delete(this.path);
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone: nothing to release.
    }
  }
}
