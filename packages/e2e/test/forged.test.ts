/**
 * Forged receipts: a real worker talks to a real aggregator through a tampering proxy.
 * Each kind of forgery must be refused with its code and counted by the worker under the
 * right error class (signature or validation). Every receipt is audited (AUDIT_RATE=1): the
 * proxy carries the forged receipt into the worker's openings too, as a forger would.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytesToHex, hexToBytes, parseReceipt, publicKeyHex, secretKeyFromHex, serializeReceipt, signReceipt, type Receipt } from "@tops/protocol";
import { freePort, getText, sampleValue, startAggregator, startWorker, waitFor, type Aggregator, type Worker } from "./harness";

type Mode = "pass" | "tamper_field" | "bad_signature" | "replay" | "stale_epoch" | "work_root";

const skHex = randomBytes(32).toString("hex");
const sk = secretKeyFromHex(skHex);
const resign = (r: Receipt, patch: Partial<Receipt>): string => serializeReceipt(signReceipt({ ...r, ...patch }, sk));

/** A man in the middle that rewrites receipts on their way to the aggregator and records the final answers. */
class TamperingProxy {
  mode: Mode = "pass";
  readonly answers: { mode: Mode; status: number; code: string }[] = [];
  private firstReceipt: Receipt | undefined;
  /** The receipt the proxy sent instead of the worker's, by the worker's signature: used again in its openings. */
  private readonly forged = new Map<string, { body: string; mode: Mode }>();
  private server: Server | undefined;
  url = "";

  constructor(private readonly upstream: string) {}

  async start(): Promise<void> {
    const port = await freePort();
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      let body = Buffer.concat(chunks).toString();
      let mode = this.mode;
      if (req.method === "POST" && req.url === "/verify" && body) {
        const r = parseReceipt(body);
        this.firstReceipt ??= r;
        if (mode === "tamper_field") body = serializeReceipt({ ...r, driver_hint: "forged" });
        if (mode === "bad_signature") {
          const sig = hexToBytes(r.sig_hex);
          sig[5]! ^= 0xff;
          body = serializeReceipt({ ...r, sig_hex: bytesToHex(sig) });
        }
        // Another receipt for an attempt already accepted (the same receipt again would be answered idempotently).
        if (mode === "replay") body = resign(this.firstReceipt, { time_ms: this.firstReceipt.time_ms + 1 + this.answers.length });
        if (mode === "stale_epoch") body = resign(r, { epoch_id: Math.max(0, r.epoch_id - 5) });
        if (mode === "work_root") body = resign(r, { work_root_hex: bytesToHex(randomBytes(32)) });
        this.forged.set(r.sig_hex, { body, mode });
      }
      if (req.method === "POST" && req.url === "/audit" && body) {
        const openings = JSON.parse(body) as { receipt: Receipt };
        const forged = this.forged.get(openings.receipt.sig_hex);
        // The openings belong to the receipt's mode, whatever the proxy switched to since.
        if (forged) {
          body = JSON.stringify({ ...openings, receipt: JSON.parse(forged.body) as Receipt });
          mode = forged.mode;
        }
      }
      const upstream = await fetch(this.upstream + req.url, {
        method: req.method, headers: { "content-type": req.headers["content-type"] ?? "application/json" },
        ...(req.method === "POST" ? { body } : {}),
      });
      const text = await upstream.text();
      if (req.method === "POST" && upstream.status !== 202) {
        const code = upstream.ok ? "OK" : ((JSON.parse(text) as { error: { code: string } }).error.code);
        this.answers.push({ mode, status: upstream.status, code });
      }
      res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" });
      res.end(text);
    }).listen(port, "127.0.0.1");
    this.url = `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server?.close(r));
  }
}

let aggregator: Aggregator;
let proxy: TamperingProxy;
let worker: Worker;
const stoppers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  aggregator = await startAggregator({ ALLOWED_KEYS: publicKeyHex(sk), AUDIT_RATE: "1", QUARANTINE_SECONDS: "3600" });
  stoppers.push(() => aggregator.proc.stop());
  proxy = new TamperingProxy(aggregator.url);
  await proxy.start();
  stoppers.push(() => proxy.stop());
  worker = await startWorker({ WORKER_SK_HEX: skHex, AGGREGATOR_URL: `${proxy.url}/verify`, RATE_LIMIT: "20" });
  stoppers.push(() => worker.proc.stop());
});
afterAll(async () => {
  for (const stop of stoppers.reverse()) await stop();
});

async function counters(): Promise<{ signature: number; validation: number; ok: number }> {
  const text = await getText(`${worker.metricsUrl}/prometheus`);
  return {
    signature: sampleValue(text, "tops_worker_signature_errors_total"),
    validation: sampleValue(text, "tops_worker_validation_errors_total"),
    ok: sampleValue(text, "tops_worker_successful_attempts_total"),
  };
}

/** Switches the proxy to `mode` and waits until the worker has counted one more error of `errorClass`. */
async function expectForgery(mode: Mode, code: string, errorClass: "signature" | "validation", thenCode?: string): Promise<void> {
  const before = await counters();
  const seen = proxy.answers.length;
  proxy.mode = mode;
  const answersOfMode = () => proxy.answers.slice(seen).filter((a) => a.mode === mode);
  // A refusal of the previous mode may still be in flight: wait for one of this mode with the expected
  // code, then for the worker to have counted at least as many errors of the class as there are of those.
  await waitFor(`${mode} to be counted as a ${errorClass} error`, async () => {
    const n = answersOfMode().filter((a) => a.code === code).length;
    return n > 0 && (await counters())[errorClass] - before[errorClass] >= n;
  });
  proxy.mode = "pass";
  const answers = answersOfMode();
  expect(answers.length).toBeGreaterThan(0);
  expect(answers[0]!.code).toBe(code);
  for (const a of answers.slice(1)) {
    // Receipts the worker sent before the proxy switched back may meet a consequence of the first (a quarantine).
    expect([code, thenCode]).toContain(a.code);
    expect(a.status).toBeGreaterThanOrEqual(400);
    expect(a.status).toBeLessThan(500);
  }
}

describe("forged receipts through a tampering proxy", () => {
  it("honest receipts pass first", async () => {
    await waitFor("two accepted attempts", async () => (await counters()).ok >= 2);
  });
  it("a tampered field fails the signature check → signature error", () => expectForgery("tamper_field", "BAD_SIGNATURE", "signature"));
  it("a corrupted signature → signature error", () => expectForgery("bad_signature", "BAD_SIGNATURE", "signature"));
  it("a replayed receipt → validation error", () => expectForgery("replay", "REPLAY", "validation"));
  it("a stale epoch, validly re-signed → validation error", () => expectForgery("stale_epoch", "STALE_EPOCH", "validation"));
  it("a forged work_root, validly signed, is caught by the audit (the openings do not lead to it) → validation error, then the key is quarantined", async () => {
    await expectForgery("work_root", "OPENING_MISMATCH", "validation", "KEY_QUARANTINED");
    const before = (await counters()).signature;
    await waitFor("the quarantined key's next receipt refused", async () => proxy.answers.at(-1)?.code === "KEY_QUARANTINED");
    await waitFor("quarantine counted as a signature error", async () => (await counters()).signature > before);
  });
  it("an unknown key → signature error", async () => {
    const stranger = await startWorker({ WORKER_SK_HEX: randomBytes(32).toString("hex"), AGGREGATOR_URL: `${aggregator.url}/verify`, RATE_LIMIT: "20" });
    try {
      await waitFor("the stranger's refusal", async () => sampleValue(await getText(`${stranger.metricsUrl}/prometheus`), "tops_worker_signature_errors_total") > 0);
      const text = await getText(`${aggregator.url}/metrics`);
      expect(sampleValue(text, "tops_aggregator_receipts_total", 'code="KEY_NOT_ALLOWED"')).toBeGreaterThan(0);
    } finally {
      expect(await stranger.proc.stop()).toBe(0);
    }
  });
});
