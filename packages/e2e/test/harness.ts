/**
 * Starts the real processes (aggregator, worker, Prometheus) the system tests talk to,
 * on free loopback ports, and stops them afterwards.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { postgresUnavailable, startPgCluster, type PgCluster } from "@tops/store/testing";
import { afterAll, beforeAll } from "vitest";

export const repoRoot = resolve(fileURLToPath(new URL("../../..", import.meta.url)));

/** Directories tempDir made for this test file (each file gets its own copy of this module). */
const madeDirs: string[] = [];
// Registered when a test file imports this module, so before that file's own hooks: with vitest's
// stacked after-hooks it runs last, once the file's processes are stopped.
afterAll(() => {
  for (const dir of madeDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tops-${prefix}-`));
  madeDirs.push(dir);
  return dir;
}

/** What one test file holds until its last test is over (fileResources()). */
export interface FileResources {
  /** Why PostgreSQL cannot run here, or null when it can. */
  readonly unavailable: string | null;
  /** A new, empty database on the file's cluster (only where `unavailable` is null). */
  newDatabase(): string;
  /** Stops this after the file's last test (newest first), before the cluster. */
  stopAfterAll(stop: () => Promise<unknown>): void;
}

/**
 * A throwaway PostgreSQL cluster for one test file (where the binaries are installed) and the
 * processes its tests start, all stopped after its last test. Call it at the file's top level.
 */
export function fileResources(): FileResources {
  const unavailable = postgresUnavailable();
  const stoppers: (() => Promise<unknown>)[] = [];
  let cluster: PgCluster | undefined;
  beforeAll(async () => {
    if (!unavailable) cluster = await startPgCluster();
  });
  afterAll(async () => {
    for (const stop of stoppers.reverse()) await stop();
    cluster?.stop();
  });
  return {
    unavailable,
    newDatabase: () => {
      if (!cluster) throw new Error(`no PostgreSQL: ${unavailable ?? "the cluster has not started"}`);
      return cluster.newDatabase();
    },
    stopAfterAll: (stop) => void stoppers.push(stop),
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolvePort(port));
    });
  });
}

export interface Proc {
  readonly child: ChildProcess;
  /** Everything the process wrote so far, stdout and stderr. */
  output(): string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export function startProcess(cmd: string, args: string[], env: Record<string, string>): Proc {
  const child = spawn(cmd, args, { cwd: repoRoot, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((r) => child.once("exit", (code, signal) => r(code ?? signal ?? "unknown")));
  return {
    child,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const result = await exited;
      clearTimeout(killer);
      return result;
    },
  };
}

/** Runs a TypeScript entry point in one Node process (`--import tsx`), so signals reach it directly. */
export const startTs = (entry: string, env: Record<string, string>): Proc =>
  startProcess(process.execPath, ["--import", "tsx", join(repoRoot, entry)], env);

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
}

export async function getText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return res.text();
}

/** The value of one series in Prometheus text exposition, summed over label sets. */
export function sampleValue(exposition: string, name: string, labelFilter?: string): number {
  let sum = 0;
  let found = false;
  for (const line of exposition.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    if (labelFilter && !(m[2] ?? "").includes(labelFilter)) continue;
    sum += Number(m[3]);
    found = true;
  }
  return found ? sum : Number.NaN;
}

export interface Aggregator {
  readonly proc: Proc;
  readonly url: string;
  readonly dataDir: string;
}

export async function startAggregator(env: Record<string, string>, dataDir = tempDir("agg"), port?: number): Promise<Aggregator> {
  const p = port ?? (await freePort());
  const proc = startTs("packages/aggregator/src/cli.ts", {
    AGGREGATOR_HOST: "127.0.0.1", AGGREGATOR_PORT: String(p), DATA_DIR: dataDir, LOG_LEVEL: "warn", ...env,
  });
  const url = `http://127.0.0.1:${p}`;
  await waitFor(`aggregator on ${url}`, async () => {
    if (proc.child.exitCode !== null) throw new Error(`aggregator exited: ${proc.output()}`);
    return (await fetch(`${url}/healthz`)).ok;
  });
  return { proc, url, dataDir };
}

export interface Worker {
  readonly proc: Proc;
  readonly metricsUrl: string;
}

export async function startWorker(env: Record<string, string>): Promise<Worker> {
  const port = await freePort();
  const proc = startTs("packages/worker/src/cli.ts", {
    METRICS_HOST: "127.0.0.1", METRICS_PORT: String(port), TOPS_BACKEND: "cpu", AUTOTUNE_DISABLE: "1",
    AUTOTUNE_SIZES: "32,32,32", SPOOL_DIR: tempDir("spool"), LOG_LEVEL: "debug", RETRY_BASE_MS: "50", RETRY_MAX_MS: "200",
    ...env,
  });
  const metricsUrl = `http://127.0.0.1:${port}`;
  await waitFor(`worker metrics on ${metricsUrl}`, async () => {
    if (proc.child.exitCode !== null) throw new Error(`worker exited (${proc.child.exitCode}): ${proc.output()}`);
    return (await fetch(`${metricsUrl}/health`)).ok;
  });
  return { proc, metricsUrl };
}

export interface Prometheus {
  readonly proc: Proc;
  readonly url: string;
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
}

export async function startPrometheus(targets: { job: string; target: string; path: string }[]): Promise<Prometheus> {
  const dir = tempDir("prom");
  const port = await freePort();
  const config = [
    "global:", "  scrape_interval: 1s", "  evaluation_interval: 1s", "scrape_configs:",
    ...targets.flatMap((t) => [
      `  - job_name: ${t.job}`, `    metrics_path: ${t.path}`, "    scrape_timeout: 1s", "    static_configs:", `      - targets: ['${t.target}']`,
    ]),
  ].join("\n");
  writeFileSync(join(dir, "prometheus.yml"), config + "\n");
  const proc = startProcess("prometheus", [
    `--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn",
  ], {});
  const url = `http://127.0.0.1:${port}`;
  await waitFor("prometheus ready", async () => (await fetch(`${url}/-/ready`)).ok);
  return {
    proc,
    url,
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      if (body.status !== "success") throw new Error(`query ${expr} failed`);
      return body.data.result;
    },
  };
}

/** JSON log lines a process printed (pino), skipping anything else. */
export function jsonLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a partial line at the end of the buffer
    }
  }
  return out;
}

/** Every receipt the aggregator has stored, in seq order (GET /receipts, all pages). */
export async function storedReceipts(url: string): Promise<{ seq: number; receipt: { nonce: number; pubkey_hex: string } }[]> {
  const out: { seq: number; receipt: { nonce: number; pubkey_hex: string } }[] = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams({ limit: "1000", ...(cursor ? { cursor } : {}) });
    const res = await fetch(`${url}/receipts?${q}`, { signal: AbortSignal.timeout(10_000) });
    if (res.status !== 200) throw new Error(`GET /receipts: ${res.status}`);
    const page = (await res.json()) as { receipts: { seq: number; receipt: { nonce: number; pubkey_hex: string } }[]; next_cursor: string | null };
    out.push(...page.receipts);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}
