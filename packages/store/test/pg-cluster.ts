/**
 * A throwaway PostgreSQL cluster for tests and the benchmark: initdb + pg_ctl in a temp dir, on a
 * free loopback port, as the `postgres` user when we run as root (Postgres refuses to run as root).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PgCluster {
  readonly port: number;
  /** URL of the `postgres` database (superuser, trust auth on loopback). */
  readonly adminUrl: string;
  /** Creates an empty database and returns its URL. */
  newDatabase(): string;
  /** The postmaster's pid (its backends are its children): for CPU accounting in benchmarks. */
  serverPid(): number;
  stop(): void;
}

/** The newest Debian PostgreSQL bin directory, or null when none is installed. */
export function postgresBinDir(): string | null {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], "bin") : null;
}

const asRoot = process.getuid?.() === 0;

function postgresUser(): { uid: number; gid: number } | null {
  try {
    return { uid: Number(execFileSync("id", ["-u", "postgres"]).toString()), gid: Number(execFileSync("id", ["-g", "postgres"]).toString()) };
  } catch {
    return null;
  }
}

/** Why Postgres tests cannot run here, or null when they can. */
export function postgresUnavailable(): string | null {
  if (!postgresBinDir()) return "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)";
  if (asRoot && !postgresUser()) return "running as root and there is no `postgres` user to run the cluster as";
  return null;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function runAsPostgres(bin: string, args: string[]): void {
  if (asRoot) execFileSync("runuser", ["-u", "postgres", "--", bin, ...args], { stdio: "pipe" });
  else execFileSync(bin, args, { stdio: "pipe" });
}

let databases = 0;

export async function startPgCluster(settings: readonly string[] = []): Promise<PgCluster> {
  const bin = postgresBinDir();
  const reason = postgresUnavailable();
  if (!bin || reason) throw new Error(reason ?? "no postgres");
  const dir = mkdtempSync(join(tmpdir(), "tops-pg-"));
  const user = asRoot ? postgresUser() : null;
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, "data");
  runAsPostgres(join(bin, "initdb"), ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]);
  const port = await freePort();
  const options = ["-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", ...settings.flatMap((s) => ["-c", s])].join(" ");
  runAsPostgres(join(bin, "pg_ctl"), ["-D", data, "-l", join(dir, "log"), "-o", options, "-w", "-t", "60", "start"]);
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const psql = (sql: string): void => runAsPostgres(join(bin, "psql"), ["-h", dir, "-p", String(port), "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql]);
  let stopped = false;
  return {
    port,
    adminUrl,
    newDatabase() {
      const name = `t_${process.pid}_${++databases}_${Date.now() % 100000}`;
      psql(`CREATE DATABASE ${name}`);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    serverPid() {
      return Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        runAsPostgres(join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

let remoteDatabases = 0;
/** A new, empty database on the cluster at `adminUrl` (from a test worker that only has the URL). */
export async function newDatabaseAt(adminUrl: string, prefix = "t"): Promise<string> {
  const { default: pg } = await import("pg");
  const name = `${prefix}_${process.pid}_${++remoteDatabases}_${randomBytes(3).toString("hex")}`;
  const client = new pg.Client(adminUrl);
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return adminUrl.replace(/\/postgres$/, `/${name}`);
}
