/**
 * What the images run, without a Docker engine: deploy/bundle.mjs (the Dockerfile's build
 * step) compiles the services into a folder, and that folder alone, with plain `node` and no
 * TypeScript loader, runs a real aggregator and a real worker whose receipts are accepted and
 * audited in the bundles' worker threads. The aggregator's database in the bundle:
 * deploy-bundle-store.test.ts.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../src";
import { freePort, httpOk, spawnLogged, waitFor, type Spawned } from "./support/processes";

const run = promisify(execFile);
let out: string;
const running: Spawned[] = [];

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), "tops-bundle-"));
  await run(process.execPath, [join(repoRoot, "deploy/bundle.mjs"), out], { cwd: repoRoot });
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(running.map((p) => p.stop()));
  if (out) await rm(out, { recursive: true, force: true });
});

/** Only `node`: no loader flags, PATH-free, cwd in the bundle folder, as the image's CMD. */
function startBundled(entry: string, env: Record<string, string>): Spawned {
  const proc = spawnLogged(process.execPath, ["--enable-source-maps", entry], { cwd: out, env: { HOME: tmpdir(), ...env } });
  running.push(proc);
  return proc;
}

/** Sum of a series' samples whose labels contain `labelFilter` (e.g. `result="match"`); NaN when there is none. */
function sample(text: string, name: string, labelFilter = ""): number {
  const values = text.split("\n")
    .map((line) => /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && m[1] === name && (m[2] ?? "").includes(labelFilter))
    .map((m) => Number(m[3]));
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0);
}

describe("deploy/bundle.mjs", () => {
  it("writes one bundle per entry point and the threads' entries under the names the sources load", () => {
    for (const file of ["worker/cli.mjs", "worker/engine-thread.mjs", "aggregator/cli.mjs", "aggregator/audit-thread.mjs"]) {
      expect(existsSync(join(out, file)), file).toBe(true);
    }
  });

  it("keeps only the packages each service loads from disk in its node_modules: no tsx, TypeScript or test tools", async () => {
    expect(readdirSync(join(out, "worker/node_modules")).sort()).toEqual(["@webgpu", "debug", "ms", "onnxruntime-common", "onnxruntime-node", "webgpu"]);
    expect(readdirSync(join(out, "aggregator/node_modules")).sort()).toEqual(["@electric-sql", "better-sqlite3", "bindings", "file-uri-to-path", "onnxruntime-common", "onnxruntime-node"]);
    // better-sqlite3 without SQLite's sources, the compiler's objects or its installer: its binding and lib/ only.
    expect(readdirSync(join(out, "aggregator/node_modules/better-sqlite3")).sort()).toEqual(["build", "lib", "package.json"]);
    expect(readdirSync(join(out, "aggregator/node_modules/better-sqlite3/build/Release"))).toEqual(["better_sqlite3.node"]);
    expect(existsSync(join(out, "node_modules"))).toBe(false);
    const bundle = await readFile(join(out, "worker/cli.mjs"), "utf8");
    expect(bundle).not.toMatch(/from\s+["']tsx|register\(\)\s*;\s*await import\(".\/engine-thread\.ts"\)/);
    // Dawn's native bindings for this platform only.
    expect(readdirSync(join(out, "worker/node_modules/webgpu/dist"))).toEqual([`${process.platform}-${process.arch}`]);
  });

  it("runs the aggregator and the worker from the bundles alone: receipts accepted and audited", async () => {
    const [aggregatorPort, metricsPort] = [await freePort(), await freePort()];
    const dataDir = join(out, "data");
    const aggregator = startBundled("aggregator/cli.mjs", {
      AGGREGATOR_HOST: "127.0.0.1", AGGREGATOR_PORT: String(aggregatorPort), DATA_DIR: dataDir, AUDIT_RATE: "1", LOG_LEVEL: "warn",
    });
    await waitFor("the bundled aggregator", () => httpOk(`http://127.0.0.1:${aggregatorPort}/healthz`), 20_000, aggregator);
    const worker = startBundled("worker/cli.mjs", {
      WORKER_SK_HEX: randomBytes(32).toString("hex"), AGGREGATOR_URL: `http://127.0.0.1:${aggregatorPort}/verify`,
      METRICS_HOST: "127.0.0.1", METRICS_PORT: String(metricsPort), TOPS_BACKEND: "cpu", AUTOTUNE_DISABLE: "1",
      AUTOTUNE_SIZES: "32,32,32", RATE_LIMIT: "5", SPOOL_DIR: join(dataDir, "spool"), LOG_LEVEL: "warn",
    });
    const metrics = await waitFor("two accepted attempts", async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/prometheus`)).text();
      return sample(text, "tops_worker_successful_attempts_total") >= 2 ? text : undefined;
    }, 40_000, worker);
    expect(sample(metrics, "process_resident_memory_bytes")).toBeGreaterThan(0);
    const aggregatorMetrics = await (await fetch(`http://127.0.0.1:${aggregatorPort}/metrics`)).text();
    expect(sample(aggregatorMetrics, "tops_aggregator_audits_total", 'result="match"')).toBeGreaterThanOrEqual(1);
    await worker.stop();
    expect(worker.child.exitCode).toBe(0);
  }, 90_000);
});
