/** Shared test helpers: an aggregator on port 0 over a temp DATA_DIR, keys, honest receipts, HTTP calls. */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import {
  bytesToHex, computeY2, deriveSeed, hexToBytes, MerkleTree, openRows, publicKeyHex, rowLeaves, serializeOpenings, serializeReceipt, signReceipt,
  type AuditRequest, type Receipt, type ReceiptBody, type Sizes,
} from "@tops/protocol";
import { newDatabaseAt } from "@tops/store/testing";
import { pino } from "pino";
import { afterAll, inject } from "vitest";
import { configFromEnv, startAggregator, type Challenge, type RunningAggregator, type StartOptions } from "../src/index";

/** Directories tempDir made for this test file (each file gets its own copy of this module). */
const madeDirs: string[] = [];
// Registered when a test file imports this module, so before that file's own hooks: with vitest's
// stacked after-hooks it runs last, once the file's aggregators are closed. Each embedded data
// directory holds a copy of a database (tens of MB); left behind, a suite run leaked gigabytes.
afterAll(() => {
  for (const dir of madeDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix = "agg"): string {
  const dir = mkdtempSync(join(tmpdir(), `tops-${prefix}-test-`));
  madeDirs.push(dir);
  return dir;
}

/** Which store this run of the suite uses (vitest.config.ts runs it once per engine). */
export const TEST_STORE: "embedded" | "postgres" = process.env.TOPS_TEST_STORE === "postgres" ? "postgres" : "embedded";

/** A DATA_DIR holding an initialised embedded database (copied from the global template). */
export function freshDataDir(prefix = "agg"): string {
  const dir = tempDir(prefix);
  cpSync(inject("embeddedTemplate"), dir, { recursive: true });
  return dir;
}

/** A new, empty PostgreSQL database on the suite's cluster. */
export async function freshDatabaseUrl(): Promise<string> {
  const admin = inject("pgAdminUrl");
  if (!admin) throw new Error(`no PostgreSQL: ${inject("pgUnavailable") ?? "unknown"}`);
  return newDatabaseAt(admin, "agg");
}

/** Where a test aggregator keeps its data: a fresh embedded database, or a fresh PostgreSQL database. */
export async function freshStoreEnv(dataDir?: string): Promise<{ dataDir: string; env: Record<string, string> }> {
  if (TEST_STORE === "postgres") return { dataDir: dataDir ?? tempDir(), env: { DATABASE_URL: await freshDatabaseUrl() } };
  return { dataDir: dataDir ?? freshDataDir(), env: {} };
}

/** A clock the test moves by hand, starting 1 s into an epoch so nothing rotates by accident. */
export class TestClock {
  now: number;
  constructor(epochSeconds = 60, start = Date.now()) {
    const epochMs = epochSeconds * 1000;
    this.now = Math.floor(start / epochMs) * epochMs + 1000;
  }
  readonly read = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

export interface TestKey {
  readonly sk: Uint8Array;
  readonly pubkeyHex: string;
}

export function newKey(): TestKey {
  const sk = secp256k1.utils.randomSecretKey();
  return { sk, pubkeyHex: publicKeyHex(sk) };
}

/** Captured pino lines, parsed. */
export class LogCapture {
  readonly lines: Record<string, unknown>[] = [];
  readonly raw: string[] = [];
  readonly stream = new Writable({
    write: (chunk: Buffer, _enc, done) => {
      for (const line of chunk.toString().split("\n")) {
        if (!line) continue;
        this.raw.push(line);
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  readonly logger = pino({ level: "debug" }, this.stream);
}

export interface TestAggregator extends RunningAggregator {
  readonly clock: TestClock;
  /** What to pass again to start another aggregator on the same data (DATABASE_URL on postgres). */
  readonly storeEnv: Record<string, string>;
}

/**
 * Starts an aggregator on 127.0.0.1:0. `env` is what an operator would set; tests default to
 * in-process audits (AUDIT_THREADS=0) so they need no thread start-up.
 */
export async function startTestAggregator(
  env: Record<string, string> = {},
  opts: { dataDir?: string; storeEnv?: Record<string, string>; clock?: TestClock } & Omit<StartOptions, "clock"> = {},
): Promise<TestAggregator> {
  const { clock = new TestClock(Number(env.EPOCH_SECONDS ?? 60)), storeEnv: given, dataDir: givenDir, ...startOptions } = opts;
  const store = given !== undefined && givenDir !== undefined ? { dataDir: givenDir, env: given } : await freshStoreEnv(givenDir);
  const config = configFromEnv({
    // The embedded database inline: its own thread costs ≈0.8 s per start, and the suite starts ~100 aggregators.
    AGGREGATOR_HOST: "127.0.0.1", AGGREGATOR_PORT: "0", DATA_DIR: store.dataDir, LOG_LEVEL: "silent", AUDIT_THREADS: "0", EMBEDDED_DB_THREAD: "0", ...store.env, ...env,
  });
  const running = await startAggregator(config, { ...startOptions, clock: clock.read });
  return { ...running, clock, storeEnv: store.env };
}

/**
 * startTestAggregator for one test file: every aggregator it starts is closed (newest first) after
 * the file's last test. Call it at the top level of the file.
 */
export function startedForThisFile(): (...args: Parameters<typeof startTestAggregator>) => Promise<TestAggregator> {
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
  });
  return async (...args) => {
    const agg = await startTestAggregator(...args);
    closers.push(agg.close);
    return agg;
  };
}

/** Every stored receipt, in seq order, through GET /receipts. */
export async function storedReceipts(url: string, key?: string): Promise<{ seq: number; audited: boolean; receipt: Receipt }[]> {
  const out: { seq: number; audited: boolean; receipt: Receipt }[] = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams({ limit: "1000", ...(key ? { key } : {}), ...(cursor ? { cursor } : {}) });
    const res = await fetch(`${url}/receipts?${q}`);
    if (res.status !== 200) throw new Error(`GET /receipts: ${res.status} ${await res.text()}`);
    const page = (await res.json()) as { receipts: { seq: number; audited: boolean; receipt: Receipt }[]; next_cursor: string | null };
    out.push(...page.receipts);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

export async function getChallenge(url: string): Promise<Challenge> {
  const res = await fetch(`${url}/challenge`);
  if (res.status !== 200) throw new Error(`GET /challenge: ${res.status}`);
  return (await res.json()) as Challenge;
}

export const SMALL: Sizes = { m: 16, n: 16, k: 16, batch: 1 };

/** An attempt's y2 as the worker computed it (honestly or not), its tree, and the signed receipt. */
export interface Work {
  readonly receipt: Receipt;
  readonly y2: Uint8Array;
  readonly tree: MerkleTree;
}

/** y2 of the attempt a receipt names, by the protocol reference. */
export function referenceY2(r: Pick<Receipt, "pubkey_hex" | "prev_hash_hex" | "device_did" | "nonce" | "sizes">): Uint8Array {
  return computeY2(deriveSeed({ pubkey: hexToBytes(r.pubkey_hex), prevHash: hexToBytes(r.prev_hash_hex), deviceDid: r.device_did, nonce: r.nonce }), r.sizes);
}

/**
 * Signs a receipt committing to y2 as the worker holds it. `fake(row)` marks rows the worker did not
 * compute: they hold other bytes (still 0..127), committed in the tree like the real ones.
 */
export function work(key: TestKey, ch: Challenge, nonce: number, sizes: Sizes = SMALL, fake: (row: number) => boolean = () => false, deviceDid = "did:test:device-1"): Work {
  const body = { device_did: deviceDid, epoch_id: ch.epoch_id, prev_hash_hex: ch.prev_hash_hex, nonce, sizes, pubkey_hex: key.pubkeyHex };
  const y2 = referenceY2(body);
  for (let r = 0; r < sizes.batch * sizes.m; r++) {
    if (!fake(r)) continue;
    for (let j = 0; j < sizes.n; j++) y2[r * sizes.n + j] = (y2[r * sizes.n + j]! + 1 + j) % 128;
  }
  const tree = MerkleTree.fromLeaves(rowLeaves(sizes, y2));
  const receipt = signReceipt({
    device_did: deviceDid, epoch_id: ch.epoch_id, prev_hash_hex: ch.prev_hash_hex, nonce, work_root_hex: bytesToHex(tree.root), sizes,
    time_ms: 12, kernel_ver: "ts-ref/1", driver_hint: "cpu test",
  }, key.sk);
  return { receipt, y2, tree };
}

/** The body a worker would sign for a challenge, with the work_root computed by the protocol reference. */
export function honestBody(key: TestKey, ch: Challenge, nonce: number, sizes: Sizes = SMALL, deviceDid = "did:test:device-1"): ReceiptBody {
  const { receipt } = work(key, ch, nonce, sizes, () => false, deviceDid);
  const { sig_hex: _sig, pubkey_hex: _pk, protocol_version: _v, ...body } = receipt;
  return body;
}

export function honestReceipt(key: TestKey, ch: Challenge, nonce: number, sizes: Sizes = SMALL): Receipt {
  return signReceipt(honestBody(key, ch, nonce, sizes), key.sk);
}

/** The openings body for an audit request, from the worker's own y2 and tree. */
export function openingsFor(w: Work, audit: AuditRequest): string {
  const { n } = w.receipt.sizes;
  return serializeOpenings({ audit_id: audit.audit_id, receipt: w.receipt, openings: openRows(w.tree, audit.rows, (row) => w.y2.subarray(row * n, (row + 1) * n)) });
}

/** POSTs openings (string as is, object → JSON) to /audit. */
export async function postAudit(url: string, body: string | object): Promise<Answer> {
  const res = await fetch(`${url}/audit`, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Answer["body"]) : {}, headers: res.headers };
}

/**
 * What an honest worker does: POST /verify; on 202 open the requested rows from its own y2
 * and POST /audit. A bare receipt is opened from the reference's y2. `first` is /verify's answer.
 */
export async function submit(url: string, w: Work | Receipt): Promise<Answer & { first: Answer }> {
  const full: Work = "tree" in w ? w : { receipt: w, y2: referenceY2(w), tree: MerkleTree.fromLeaves(rowLeaves(w.sizes, referenceY2(w))) };
  const first = await postVerify(url, full.receipt);
  if (first.status !== 202 || !first.body.audit) return { ...first, first };
  return { ...(await postAudit(url, openingsFor(full, first.body.audit))), first };
}

export interface Answer {
  readonly status: number;
  readonly body: { accepted?: boolean; audited?: boolean; seq?: number; duplicate?: boolean; audit?: AuditRequest; error?: { code: string; message: string; field?: string } };
  readonly headers: Headers;
}

/** POSTs a receipt (object → wire JSON, string → as is) to /verify. */
export async function postVerify(url: string, receipt: Receipt | string | Uint8Array, contentType = "application/json"): Promise<Answer> {
  const body = typeof receipt === "string" || receipt instanceof Uint8Array ? receipt : serializeReceipt(receipt);
  const res = await fetch(`${url}/verify`, { method: "POST", headers: { "content-type": contentType }, body });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Answer["body"]) : {}, headers: res.headers };
}

/** The code of a refusal, or "OK". */
export const codeOf = (a: Answer): string => a.body.error?.code ?? (a.body.accepted ? "OK" : a.body.audit ? "AUDIT" : "?");
