/**
 * Over a thousand malformed or hostile requests: each gets a 4xx, the service keeps serving
 * (an honest receipt is still accepted afterwards) and memory stays bounded.
 */
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { connect } from "node:net";
import { serializeReceipt } from "@tops/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeOf, getChallenge, honestReceipt, newKey, startTestAggregator, submit, type TestAggregator } from "./support";

let agg: TestAggregator;
const key = newKey();
let validJson: string;

beforeAll(async () => {
  agg = await startTestAggregator({ AUDIT_RATE: "1", ALLOWED_KEYS: key.pubkeyHex, HEADERS_TIMEOUT_MS: "500", REQUEST_TIMEOUT_MS: "800" });
  validJson = serializeReceipt(honestReceipt(key, await getChallenge(agg.url), 1));
});
afterAll(() => agg.close());

interface Hostile {
  readonly kind: string;
  readonly method?: string;
  readonly path?: string;
  readonly contentType?: string | null;
  readonly headers?: Record<string, string>;
  readonly body?: Uint8Array | string;
}

const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const WEIRD_VALUES: readonly unknown[] = [null, true, false, 0, -1, 1.5, 2 ** 53, -(2 ** 60), 1e308, "", "x", "0".repeat(300), [], [1], {}, { a: 1 }, "\u0000", "\ud800"];

function mutatedReceipts(n: number): Hostile[] {
  const base = JSON.parse(validJson) as Record<string, unknown>;
  const fields = [...Object.keys(base), "sizes.m", "sizes.batch", "extra"];
  return Array.from({ length: n }, () => {
    const o = structuredClone(base);
    const field = pick(fields);
    const value = pick(WEIRD_VALUES);
    if (field.startsWith("sizes.")) (o.sizes as Record<string, unknown>)[field.slice(6)] = value;
    else o[field] = value;
    return { kind: "wrong type", body: JSON.stringify(o) };
  });
}

function flippedBytes(n: number): Hostile[] {
  const original = Buffer.from(validJson);
  const out: Hostile[] = [];
  while (out.length < n) {
    const bytes = Buffer.from(original);
    for (let i = 0; i < 1 + Math.floor(Math.random() * 3); i++) bytes[Math.floor(Math.random() * bytes.length)] = Math.floor(Math.random() * 256);
    // An unchanged body would be the valid receipt itself.
    if (!bytes.equals(original)) out.push({ kind: "flipped bytes", body: bytes });
  }
  return out;
}

function hostileBodies(): Hostile[] {
  const out: Hostile[] = [];
  for (let i = 0; i < 300; i++) out.push({ kind: "random bytes", body: randomBytes(Math.floor(Math.random() * 3000)) });
  for (let i = 0; i < 60; i++) out.push({ kind: "huge", body: randomBytes(8193 + Math.floor(Math.random() * 200_000)) });
  for (let i = 0; i < 60; i++) {
    const depth = 100 + Math.floor(Math.random() * 3900);
    const open = pick(["[", '{"a":']);
    const close = open === "[" ? "]" : "}";
    out.push({ kind: "deep nesting", body: open.repeat(depth) + "1" + close.repeat(depth) });
  }
  out.push(...mutatedReceipts(300));
  out.push(...flippedBytes(150));
  for (let i = 0; i < 80; i++) {
    out.push({
      kind: "content type",
      contentType: pick([null, "text/plain", "application/xml", "multipart/form-data; boundary=x", "application/json; charset=utf-16", "application/json-seq", "*/*"]),
      body: validJson,
    });
  }
  for (let i = 0; i < 20; i++) out.push({ kind: "content encoding", headers: { "content-encoding": pick(["gzip", "deflate", "br"]) }, body: validJson });
  for (let i = 0; i < 40; i++) {
    out.push(pick<Hostile>([
      { kind: "method", method: "GET", path: "/verify" },
      { kind: "method", method: "PUT", path: "/verify", body: validJson },
      { kind: "method", method: "DELETE", path: "/challenge" },
      { kind: "path", method: "GET", path: "/../../etc/passwd" },
      { kind: "path", method: "POST", path: "/verify/", body: validJson },
      { kind: "path", method: "GET", path: `/${"a".repeat(2000)}` },
    ]));
  }
  for (let i = 0; i < 20; i++) out.push({ kind: "json but not a receipt", body: pick(["null", "1", '"s"', "[]", "{}", '{"__proto__":{"x":1}}', '{"constructor":{}}']) });
  return out;
}

/** Sends one request with node:http; resolves with the status, or "reset" if the connection was cut first. */
function send(h: Hostile): Promise<number | "reset"> {
  const url = new URL(h.path ?? "/verify", agg.url);
  const headers: Record<string, string> = { ...h.headers };
  if (h.contentType !== null) headers["content-type"] = h.contentType ?? "application/json";
  return new Promise((resolve) => {
    const req = request(url, { method: h.method ?? "POST", headers }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", () => resolve("reset"));
    req.end(h.body);
  });
}

/** Raw TCP: headers (and part of a body), then silence. Returns the status line the server sends. */
function stall(head: string): Promise<string> {
  const { port } = new URL(agg.url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), "127.0.0.1", () => socket.write(head));
    let got = "";
    socket.on("data", (d: Buffer) => (got += d.toString()));
    socket.on("close", () => resolve(got.split("\r\n")[0] ?? ""));
    socket.on("error", () => resolve(got.split("\r\n")[0] ?? ""));
    socket.setTimeout(5000, () => socket.destroy());
  });
}

describe("hostile input", () => {
  it("answers ≥ 1000 malformed requests with 4xx only, keeps serving, and memory stays bounded", async () => {
    const bodies = hostileBodies();
    expect(bodies.length).toBeGreaterThanOrEqual(1000);
    const memoryBefore = process.memoryUsage();
    const statuses = new Map<string, number[]>();
    const queue = [...bodies];
    await Promise.all(Array.from({ length: 16 }, async () => {
      for (let h = queue.shift(); h; h = queue.shift()) {
        const status = await send(h);
        // A client still writing a huge body may see its connection cut after the 413 was sent.
        const seen = status === "reset" && h.kind === "huge" ? 413 : status;
        statuses.set(h.kind, [...(statuses.get(h.kind) ?? []), seen === "reset" ? -1 : seen]);
      }
    }));
    const all = [...statuses.values()].flat();
    expect(all).toHaveLength(bodies.length);
    const bad = [...statuses].flatMap(([kind, ss]) => ss.filter((s) => s < 400 || s >= 500).map((s) => `${kind}: ${s}`));
    expect(bad).toEqual([]);
    expect(new Set(statuses.get("huge"))).toEqual(new Set([413]));
    expect(new Set(statuses.get("content type"))).toEqual(new Set([415]));

    // Slow and partial requests: stalled headers, a stalled body, a client that leaves mid-body.
    const stalls = await Promise.all([
      stall("POST /verify HTTP/1.1\r\nHost: x\r\nContent-Type: appli"),
      stall("POST /verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"device_did\":"),
      stall("POST /verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"device_did\":\"x\r\n"),
    ]);
    for (const line of stalls) expect(line).toMatch(/^HTTP\/1\.1 4\d\d/);
    await new Promise<void>((resolve) => {
      const socket = connect(Number(new URL(agg.url).port), "127.0.0.1", () => {
        socket.end("POST /verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 900\r\n\r\n{\"de");
        socket.destroy();
        resolve();
      });
    });

    // Still serving: an honest receipt is accepted, and the challenge is served.
    const ok = await submit(agg.url, honestReceipt(key, await getChallenge(agg.url), 2));
    expect(codeOf(ok)).toBe("OK");
    const health = await fetch(`${agg.url}/healthz`);
    expect(health.status).toBe(200);

    const memoryAfter = process.memoryUsage();
    // Generous: ~15 MB of bodies went through; nothing of them may stay behind.
    expect(memoryAfter.heapUsed - memoryBefore.heapUsed).toBeLessThan(64 * 1024 * 1024);
    expect(memoryAfter.rss - memoryBefore.rss).toBeLessThan(192 * 1024 * 1024);

    const metrics = await (await fetch(`${agg.url}/metrics`)).text();
    expect(metrics).toMatch(/code="BODY_TOO_LARGE"\} \d+/);
  }, 30_000);
});
