/**
 * Start-up does not read the ledger (issue: "first answer within 2 s with ≥ 1,000,000 rows").
 * The aggregator as the container image runs it (deploy/bundle.mjs's bundle, plain node: no
 * TypeScript compiled at start) on a store holding 1,000,000 receipts, side by side with the
 * same start on an empty store: the time to its first answer and its memory must not depend on
 * what is stored.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { openStore } from "@tops/store";
import { fillKey, fillReceipts } from "@tops/store/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshStoreEnv, TEST_STORE } from "./support";

const ROWS = 1_000_000;
const FIRST_ANSWER_MS = 2000;
const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
let bundleDir = "";
let cli = "";

beforeAll(async () => {
  bundleDir = mkdtempSync(join(tmpdir(), "tops-agg-bundle-"));
  await promisify(execFile)(process.execPath, [join(repoRoot, "deploy/bundle.mjs"), bundleDir], { cwd: repoRoot });
  cli = join(bundleDir, "aggregator", "cli.mjs");
}, 120_000);
afterAll(() => {
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
});

/** Resident memory (kB) of a process and its children. */
function treeRssKb(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  return rss + children.reduce((n, c) => n + treeRssKb(c), 0);
}

interface Start {
  /** From spawn to the first 200 of GET /healthz. */
  readonly firstAnswerMs: number;
  readonly rssMb: number;
  readonly health: { ledger_entries: number; store: string };
  readonly url: string;
  readonly child: ChildProcess;
}

async function start(dataDir: string, env: Record<string, string>): Promise<Start> {
  const started = performance.now();
  // Its own process group, so a failed test still stops it and anything it started.
  const child = spawn(process.execPath, [cli], {
    env: { PATH: process.env.PATH ?? "", DATA_DIR: dataDir, AGGREGATOR_HOST: "127.0.0.1", AGGREGATOR_PORT: "0", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "inherit"],
    detached: true,
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /"event":"listening","url":"([^"]+)"/.exec(out);
        if (m?.[1]) resolve(m[1]);
      });
      child.once("exit", (code) => reject(new Error(`the aggregator exited with ${code}: ${out}`)));
    });
    const res = await fetch(`${url}/healthz`);
    const firstAnswerMs = performance.now() - started;
    expect(res.status).toBe(200);
    return { firstAnswerMs, rssMb: treeRssKb(child.pid!) / 1024, health: (await res.json()) as Start["health"], url, child };
  } catch (e) {
    await stop(child);
    throw e;
  }
}

function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once("exit", () => resolve())));
  try {
    process.kill(-child.pid!, "SIGTERM");
  } catch {
    // already gone
  }
  return exited;
}

/** The fastest of three starts (CI machines are shared; a start can lose a second to a neighbour). */
async function bestStart(dataDir: string, env: Record<string, string>, check: (s: Start) => Promise<void>): Promise<Start> {
  const starts: Start[] = [];
  for (let i = 0; i < 3; i++) {
    const s = await start(dataDir, env);
    try {
      await check(s);
    } finally {
      await stop(s.child);
    }
    starts.push(s);
  }
  return starts.reduce((a, b) => (b.firstAnswerMs < a.firstAnswerMs ? b : a));
}

describe(`start-up with ${ROWS.toLocaleString("en-US")} stored receipts (${TEST_STORE})`, () => {
  it(`answers within ${FIRST_ANSWER_MS} ms of its start, as fast and as small as on an empty store`, async () => {
    const location = await freshStoreEnv();
    const env = { AUDIT_RATE: "0", ...location.env };
    const storeOptions = { dataDir: location.dataDir, ...(location.env.DATABASE_URL ? { databaseUrl: location.env.DATABASE_URL } : {}) };

    // The same store, empty then full, so both starts open a database of the same kind.
    const empty = await bestStart(location.dataDir, env, async (s) => {
      expect(s.health.ledger_entries).toBe(0);
    });
    const store = await openStore(storeOptions);
    try {
      await fillReceipts(store, ROWS);
    } finally {
      await store.close();
    }
    const full = await bestStart(location.dataDir, env, async (s) => {
      expect(s.health.ledger_entries).toBe(ROWS);
      // Indexed queries answer at this size too.
      const devices = (await (await fetch(`${s.url}/devices?key=${fillKey(5)}`)).json()) as { devices: { receipts: number }[] };
      expect(devices.devices[0]?.receipts).toBe(ROWS / 1000);
    });

    console.log(
      `${TEST_STORE}: first answer ${empty.firstAnswerMs.toFixed(0)} ms empty, ${full.firstAnswerMs.toFixed(0)} ms with ${ROWS} receipts;`
        + ` memory ${empty.rssMb.toFixed(0)} MB empty, ${full.rssMb.toFixed(0)} MB full`,
    );
    expect(full.firstAnswerMs).toBeLessThan(FIRST_ANSWER_MS);
    // Independent of the ledger: no more than half a second slower, and no more memory than the
    // start-to-start noise of PGlite's WASM heap (±50 MB seen). Reading the ledger would cost far
    // more: the JSON-lines aggregator loaded its whole 693 MB ledger of 1,000,000 receipts at start.
    expect(full.firstAnswerMs - empty.firstAnswerMs).toBeLessThan(500);
    expect(full.rssMb - empty.rssMb).toBeLessThan(128);
  }, 900_000);
});
