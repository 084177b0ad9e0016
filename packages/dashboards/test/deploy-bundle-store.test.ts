/**
 * The bundled aggregator on its database, without a Docker engine. deploy/bundle.mjs's output
 * (what the aggregator image holds) must carry @tops/store's migrations where the bundle reads
 * them (MIGRATIONS_DIR, resolved from the bundle's own URL) and PGlite's wasm/data files; then
 * plain `node aggregator/cli.mjs` runs on the embedded engine (receipts survive a restart) and
 * on a real PostgreSQL through DATABASE_URL, where a second aggregator process shares the ledger.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, posix, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { postgresUnavailable, startPgCluster, type PgCluster } from "@tops/store/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../src";
import { parseDockerfile } from "./support/dockerfile";
import { freePort, httpOk, spawnLogged, waitFor, type Spawned } from "./support/processes";

const run = promisify(execFile);
const migrationsSource = join(repoRoot, "packages/store/migrations");
const sqlFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith(".sql")).sort();

interface Manifest { readonly dependencies?: Record<string, string> }
const aggregatorManifest = JSON.parse(await readFile(join(repoRoot, "packages/aggregator/package.json"), "utf8")) as Manifest;
/** The aggregator keeps its state through @tops/store (the issue-10 wiring); before that there is nothing of the store to bundle. */
const aggregatorUsesStore = aggregatorManifest.dependencies?.["@tops/store"] !== undefined;
const noStoreReason = aggregatorUsesStore ? "" : " (SKIPPED: packages/aggregator does not depend on @tops/store on this checkout)";
const pgReason = postgresUnavailable();

let out = "";
const running: Spawned[] = [];
let cluster: PgCluster | undefined;

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), "tops-bundle-store-"));
  await run(process.execPath, [join(repoRoot, "deploy/bundle.mjs"), out], { cwd: repoRoot });
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(running.map((p) => p.stop()));
  cluster?.stop();
  if (out) await rm(out, { recursive: true, force: true });
});

/** Only `node`, cwd in the bundle folder, as the image's CMD. */
function startBundled(entry: string, env: Record<string, string>): Spawned {
  const proc = spawnLogged(process.execPath, ["--enable-source-maps", entry], { cwd: out, env: { HOME: tmpdir(), ...env } });
  running.push(proc);
  return proc;
}

interface Health { readonly status: string; readonly store: string; readonly auditor: string }
interface ReceiptsPage { readonly receipts: readonly { readonly seq: number }[] }

const getJson = async <T>(url: string): Promise<T> => {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
};

async function startAggregator(env: Record<string, string>): Promise<{ url: string; proc: Spawned }> {
  const port = await freePort();
  const proc = startBundled("aggregator/cli.mjs", { AGGREGATOR_HOST: "127.0.0.1", AGGREGATOR_PORT: String(port), AUDIT_RATE: "1", LOG_LEVEL: "warn", ...env });
  const url = `http://127.0.0.1:${port}`;
  await waitFor("the bundled aggregator", () => httpOk(`${url}/healthz`), 30_000, proc);
  return { url, proc };
}

/** Runs the bundled worker (CPU backend, tiny sizes) against `aggregatorUrl` until `attempts` receipts were accepted. */
async function submitReceipts(aggregatorUrl: string, spoolDir: string, attempts: number): Promise<void> {
  const metricsPort = await freePort();
  const worker = startBundled("worker/cli.mjs", {
    WORKER_SK_HEX: randomBytes(32).toString("hex"), AGGREGATOR_URL: `${aggregatorUrl}/verify`,
    METRICS_HOST: "127.0.0.1", METRICS_PORT: String(metricsPort), TOPS_BACKEND: "cpu", AUTOTUNE_DISABLE: "1",
    AUTOTUNE_SIZES: "32,32,32", RATE_LIMIT: "5", SPOOL_DIR: spoolDir, LOG_LEVEL: "warn",
  });
  await waitFor(`${attempts} accepted attempts`, async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/prometheus`)).text();
    const accepted = /^tops_worker_successful_attempts_total(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1];
    return Number(accepted) >= attempts ? true : undefined;
  }, 60_000, worker);
  await worker.stop();
}

const storedSeqs = async (url: string): Promise<number[]> => (await getJson<ReceiptsPage>(`${url}/receipts?limit=100`)).receipts.map((r) => r.seq);

/** The auditor loaded onnxruntime-node from the bundle's node_modules (not the reference fallback). */
async function auditorUsesOnnxruntime(url: string, proc: Spawned): Promise<string> {
  return waitFor("the audit kernel", async () => {
    const { auditor } = await getJson<Health>(`${url}/healthz`);
    return auditor.startsWith("loading") ? undefined : auditor;
  }, 30_000, proc);
}

describe("deploy/Dockerfile: the store's migrations", () => {
  it("copies the bundle's migrations where the bundled aggregator resolves them (/app/aggregator/../migrations)", async () => {
    const dockerfile = parseDockerfile(await readFile(join(repoRoot, "deploy/Dockerfile"), "utf8"));
    const lineage = (name: string): string[] => {
      const stage = dockerfile.stages.find((s) => s.name === name);
      return stage ? [...lineage(stage.from), name] : [];
    };
    const instructions = dockerfile.stages.filter((s) => lineage("aggregator").includes(s.name ?? "")).flatMap((s) => s.instructions);
    const workdir = instructions.filter((i) => i.keyword === "WORKDIR").at(-1)?.args ?? "/";
    const copies = instructions.filter((i) => i.keyword === "COPY").map((i) => i.args.split(/\s+/).filter((a) => !a.startsWith("--")));
    const target = (source: string): string | undefined => {
      const dest = copies.find(([from]) => from === source)?.[1];
      return dest === undefined ? undefined : posix.resolve(workdir, dest);
    };
    const aggregatorDir = target("/out/aggregator");
    expect(aggregatorDir).toBeDefined();
    expect(target("/out/migrations")).toBe(posix.resolve(aggregatorDir ?? "/", "../migrations"));
    expect(target("/out/migrations-sqlite")).toBe(posix.resolve(aggregatorDir ?? "/", "../migrations-sqlite"));
  });
});

describe("deploy/bundle.mjs: what the aggregator loads from disk", () => {
  it("puts PGlite with its wasm and data files and onnxruntime's binding in the aggregator's node_modules", () => {
    const pglite = join(out, "aggregator/node_modules/@electric-sql/pglite/dist");
    for (const file of ["pglite.wasm", "pglite.data", "initdb.wasm"]) expect(existsSync(join(pglite, file)), file).toBe(true);
    const binding = join(out, `aggregator/node_modules/onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}/onnxruntime_binding.node`);
    expect(existsSync(binding)).toBe(true);
    // Only this platform's binaries (the image builds on the platform it runs on).
    expect(readdirSync(join(out, "aggregator/node_modules/onnxruntime-node/bin/napi-v6"))).toEqual([process.platform]);
    // The aggregator's database is not the worker's business, and the reverse.
    expect(existsSync(join(out, "worker/node_modules/@electric-sql"))).toBe(false);
    expect(existsSync(join(out, "aggregator/node_modules/webgpu"))).toBe(false);
  });

  it("holds every file the bundles open relative to themselves (threads' entries, migrations)", async () => {
    const opened: string[] = [];
    for (const service of ["aggregator", "worker"]) {
      for (const file of readdirSync(join(out, service)).filter((f) => f.endsWith(".mjs"))) {
        const bundle = join(out, service, file);
        for (const m of (await readFile(bundle, "utf8")).matchAll(/new URL\("([^"]+)", import\.meta\.url\)/g)) {
          opened.push(fileURLToPath(new URL(m[1] ?? "", pathToFileURL(bundle))));
        }
      }
    }
    // At least the audit and engine threads' entries.
    expect(opened).toEqual(expect.arrayContaining([join(out, "aggregator/audit-thread.mjs"), join(out, "worker/engine-thread.mjs")]));
    for (const path of opened) expect(existsSync(path), path).toBe(true);
  });

  it.skipIf(!aggregatorUsesStore)(`writes the store's migrations where the bundled code resolves MIGRATIONS_DIR${noStoreReason}`, async () => {
    const bundle = await readFile(join(out, "aggregator/cli.mjs"), "utf8");
    const relative = /MIGRATIONS_DIR\d* = fileURLToPath\d*\(new URL\("([^"]+)", import\.meta\.url\)\)/.exec(bundle)?.[1];
    expect(relative).toBeDefined();
    const dir = fileURLToPath(new URL(relative ?? "", pathToFileURL(join(out, "aggregator/cli.mjs"))));
    expect(resolve(dir)).toBe(join(out, "migrations"));
    expect(sqlFiles(dir)).toEqual(sqlFiles(migrationsSource));
    for (const file of sqlFiles(dir)) expect(await readFile(join(dir, file), "utf8")).toBe(await readFile(join(migrationsSource, file), "utf8"));
    // The embedded SQLite engine's own migrations, likewise (SQLITE_MIGRATIONS_DIR).
    const sqliteSource = join(repoRoot, "packages/store/migrations-sqlite");
    expect(sqlFiles(join(out, "migrations-sqlite"))).toEqual(sqlFiles(sqliteSource));
    for (const file of sqlFiles(sqliteSource)) expect(await readFile(join(out, "migrations-sqlite", file), "utf8")).toBe(await readFile(join(sqliteSource, file), "utf8"));
  });
});

describe.skipIf(!aggregatorUsesStore)(`the bundled aggregator on its database${noStoreReason}`, () => {
  it("embedded (DATA_DIR): migrates, accepts, keeps receipts across a restart, audits with onnxruntime", async () => {
    const dataDir = join(out, "embedded-data");
    const first = await startAggregator({ DATA_DIR: dataDir });
    expect((await getJson<Health>(`${first.url}/healthz`)).store).toBe("embedded");
    expect(await auditorUsesOnnxruntime(first.url, first.proc)).toMatch(/^onnxruntime-node /);
    await submitReceipts(first.url, join(out, "embedded-spool"), 2);
    const before = await storedSeqs(first.url);
    expect(before.length).toBeGreaterThanOrEqual(2);
    await first.proc.stop();
    expect(first.proc.child.exitCode, first.proc.output()).toBe(0);

    const second = await startAggregator({ DATA_DIR: dataDir });
    expect(await storedSeqs(second.url)).toEqual(before);
    await second.proc.stop();
  }, 150_000);

  it.skipIf(pgReason !== null)(`PostgreSQL (DATABASE_URL): two processes share the ledger${pgReason ? ` (SKIPPED: ${pgReason})` : ""}`, async () => {
    cluster = await startPgCluster();
    const databaseUrl = cluster.newDatabase();
    // Each gets its own DATA_DIR, so nothing is shared but the database.
    const a = await startAggregator({ DATABASE_URL: databaseUrl, DATA_DIR: join(out, "pg-a") });
    const b = await startAggregator({ DATABASE_URL: databaseUrl, DATA_DIR: join(out, "pg-b") });
    for (const { url } of [a, b]) expect((await getJson<Health>(`${url}/healthz`)).store).toBe("postgres");
    await submitReceipts(a.url, join(out, "pg-spool"), 2);
    const stored = await storedSeqs(a.url);
    expect(stored.length).toBeGreaterThanOrEqual(2);
    expect(await storedSeqs(b.url)).toEqual(stored);
    // With DATABASE_URL the embedded engine is never opened: no database under DATA_DIR.
    expect(existsSync(join(out, "pg-a", "db"))).toBe(false);
  }, 150_000);
});
