/** Shared test helpers: an aggregator on port 0 over a temp DATA_DIR, keys, honest receipts, HTTP calls. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import {
  bytesToHex, deriveSeed, hexToBytes, publicKeyHex, referenceWorkRoot, serializeReceipt, signReceipt,
  type Receipt, type ReceiptBody, type Sizes,
} from "@tops/protocol";
import { pino } from "pino";
import { configFromEnv, startAggregator, type Challenge, type RunningAggregator, type StartOptions } from "../src/index";

export function tempDir(prefix = "agg"): string {
  return mkdtempSync(join(tmpdir(), `tops-${prefix}-test-`));
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
}

/**
 * Starts an aggregator on 127.0.0.1:0. `env` is what an operator would set; tests default to
 * in-process audits (AUDIT_THREADS=0) so they need no thread start-up.
 */
export async function startTestAggregator(
  env: Record<string, string> = {},
  opts: { dataDir?: string; clock?: TestClock } & Omit<StartOptions, "clock"> = {},
): Promise<TestAggregator> {
  const { dataDir = tempDir(), clock = new TestClock(Number(env.EPOCH_SECONDS ?? 60)), ...startOptions } = opts;
  const config = configFromEnv({ AGGREGATOR_HOST: "127.0.0.1", AGGREGATOR_PORT: "0", DATA_DIR: dataDir, LOG_LEVEL: "silent", AUDIT_THREADS: "0", ...env });
  const running = await startAggregator(config, { ...startOptions, clock: clock.read });
  return { ...running, clock };
}

export async function getChallenge(url: string): Promise<Challenge> {
  const res = await fetch(`${url}/challenge`);
  if (res.status !== 200) throw new Error(`GET /challenge: ${res.status}`);
  return (await res.json()) as Challenge;
}

export const SMALL: Sizes = { m: 16, n: 16, k: 16, batch: 1 };

/** The body a worker would sign for a challenge, with the work_root computed by the protocol reference. */
export function honestBody(ch: Challenge, nonce: number, sizes: Sizes = SMALL, deviceDid = "did:test:device-1"): ReceiptBody {
  const seed = deriveSeed({ prevHash: hexToBytes(ch.prev_hash_hex), deviceDid, nonce });
  return {
    device_did: deviceDid, epoch_id: ch.epoch_id, prev_hash_hex: ch.prev_hash_hex, nonce,
    work_root_hex: bytesToHex(referenceWorkRoot(seed, sizes)), sizes, time_ms: 12, kernel_ver: "ts-ref/1", driver_hint: "cpu test",
  };
}

export function honestReceipt(key: TestKey, ch: Challenge, nonce: number, sizes: Sizes = SMALL): Receipt {
  return signReceipt(honestBody(ch, nonce, sizes), key.sk);
}

export interface Answer {
  readonly status: number;
  readonly body: { accepted?: boolean; audited?: boolean; seq?: number; error?: { code: string; message: string; field?: string } };
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
export const codeOf = (a: Answer): string => a.body.error?.code ?? (a.body.accepted ? "OK" : "?");
