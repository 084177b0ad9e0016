/**
 * HTTP routes of the aggregator (node:http, no framework):
 *
 *   GET  /challenge   200 {epoch_id, prev_hash_hex, expires_at}
 *   POST /verify      200 {accepted: true, audited, seq, epoch_id, nonce, duplicate?}
 *                     | 202 {accepted: false, audit: {audit_id, rows, expires_at}} | 4xx/5xx {error: {code, message, field?}}
 *   POST /audit       the openings of a 202 (SPEC.md §8): answered as /verify's final answer
 *   GET  /devices     per key and device: receipts, verified ops, first/last seen, quarantine, ops/s (?window_s, key, limit)
 *   GET  /receipts    accepted receipts in seq order, paged (?key, since, cursor, limit)
 *   GET  /metrics     Prometheus text (OpenMetrics when asked for)
 *   GET  /healthz     200 {status: "ok", …} | 503 {status: "failing", …} when the ledger cannot be written
 *
 * Hostile input is answered with a 4xx and costs bounded memory: bodies are streamed and
 * refused past MAX_BODY_BYTES (413, connection closed so the rest is never read); the
 * header/request/keep-alive timeouts are set on the server (aggregator.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { EpochSchedule } from "./epochs";
import { AggregatorErrorCode as A, VerifyRejection } from "./errors";
import type { AggregatorMetricsRegistry } from "./metrics";
import type { VerifyOutcome, VerifyPipeline } from "./verify";
import { MAX_DEVICES, MAX_PAGE, MAX_WINDOW_MS, StoreQueryError, type DeviceSummary, type ReceiptStore, type StoredReceipt } from "@tops/store";
import { isLowerHex } from "@tops/protocol";

export interface HealthReport {
  readonly ok: boolean;
  readonly [field: string]: unknown;
}

export interface HttpDeps {
  readonly pipeline: VerifyPipeline;
  readonly epochs: EpochSchedule;
  readonly metrics: AggregatorMetricsRegistry;
  readonly log: Logger;
  readonly clock: () => number;
  readonly maxBodyBytes: number;
  /** Largest POST /audit body: AUDIT_ROWS openings at MAX_DIM. */
  readonly maxOpeningsBytes: number;
  readonly health: () => Promise<HealthReport>;
  /** For the operators' queries (GET /devices, GET /receipts). */
  readonly store: Pick<ReceiptStore, "devices" | "receipts">;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Seconds a client should wait before retrying a 503. */
const RETRY_AFTER_SECONDS: Partial<Record<string, string>> = { [A.OVERLOADED]: "1", [A.UNAVAILABLE]: "5", [A.IN_PROGRESS]: "1" };

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}

/** Whether the request announced a body that has not been read to its end. */
function bodyPending(req: IncomingMessage): boolean {
  if (req.complete) return false;
  return req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
}

/**
 * Answers a refusal. When the request body was not read (yet), the connection is closed after
 * the answer instead of reading (possibly endless) bytes nobody needs.
 */
function sendRejection(req: IncomingMessage, res: ServerResponse, rejection: VerifyRejection, headers: Record<string, string> = {}): void {
  const retryAfter = RETRY_AFTER_SECONDS[rejection.code];
  sendJson(res, rejection.status, rejection.toBody(), {
    ...(retryAfter ? { "retry-after": retryAfter } : {}),
    ...(bodyPending(req) ? { connection: "close" } : {}),
    ...headers,
  });
}

type BodyResult = { readonly kind: "body"; readonly bytes: Buffer } | { readonly kind: "too_large" } | { readonly kind: "aborted" };

/** Reads at most `limit` bytes; stops reading (pauses the socket) as soon as the body is known to be larger. */
function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) return Promise.resolve({ kind: "too_large" });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (result: BodyResult): void => {
      if (settled) return;
      settled = true;
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("close", onClose);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        settle({ kind: "too_large" });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => settle({ kind: "body", bytes: Buffer.concat(chunks, size) });
    const onClose = (): void => settle({ kind: "aborted" });
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("close", onClose);
  });
}

/** `application/json`, with no charset or charset=utf-8; and no Content-Encoding (we do not inflate). */
function mediaTypeProblem(req: IncomingMessage): string | null {
  const contentType = req.headers["content-type"];
  if (contentType === undefined) return "Content-Type must be application/json";
  const [type, ...params] = contentType.split(";").map((p) => p.trim().toLowerCase());
  if (type !== "application/json") return `Content-Type must be application/json, got ${JSON.stringify(contentType.slice(0, 100))}`;
  for (const param of params) {
    const [name, value] = param.split("=").map((p) => p.trim());
    if (name === "charset" && value?.replace(/^"|"$/g, "") !== "utf-8") return "the only charset accepted is utf-8";
  }
  const encoding = req.headers["content-encoding"]?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== "" && encoding !== "identity") return `Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not accepted; send the JSON as is`;
  return null;
}

export function createRequestHandler(deps: HttpDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { pipeline, epochs, metrics, log, clock } = deps;

  /** POST /verify and POST /audit: read a bounded JSON body, run it through the pipeline, answer. */
  const pipelineRoute = (limit: number, run: (body: Buffer) => Promise<VerifyOutcome>): Handler => async (req, res) => {
    const problem = mediaTypeProblem(req);
    if (problem) return refuseBeforePipeline(req, res, new VerifyRejection(A.UNSUPPORTED_MEDIA_TYPE, problem));
    const body = await readBody(req, limit);
    if (body.kind === "aborted") {
      log.debug({ event: "verify_aborted", remote: req.socket.remoteAddress }, "client went away before the body was complete");
      return;
    }
    if (body.kind === "too_large") {
      return refuseBeforePipeline(req, res, new VerifyRejection(A.BODY_TOO_LARGE, `the body exceeds ${limit} bytes`));
    }
    const outcome = await run(body.bytes);
    if (outcome.kind === "accepted") {
      const { receipt, audited, seq, duplicate } = outcome;
      sendJson(res, 200, { accepted: true, audited, seq, epoch_id: receipt.epoch_id, nonce: receipt.nonce, ...(duplicate ? { duplicate } : {}) });
    } else if (outcome.kind === "audit") {
      sendJson(res, 202, { accepted: false, audit: outcome.audit });
    } else {
      sendRejection(req, res, outcome.rejection);
    }
    logVerify(req, outcome);
  };

  function refuseBeforePipeline(req: IncomingMessage, res: ServerResponse, rejection: VerifyRejection): void {
    metrics.rejected(rejection.code);
    sendRejection(req, res, rejection);
    log.info({ event: "verify", outcome: "rejected", status: rejection.status, code: rejection.code, remote: req.socket.remoteAddress }, rejection.message);
  }

  /** One JSON line per receipt: outcome, code and who sent what (public fields only). */
  function logVerify(req: IncomingMessage, outcome: VerifyOutcome): void {
    const r = outcome.receipt;
    const fields = {
      event: "verify",
      outcome: outcome.kind,
      status: outcome.kind === "accepted" ? 200 : outcome.kind === "audit" ? 202 : outcome.rejection.status,
      code: outcome.kind === "rejected" ? outcome.rejection.code : "OK",
      audited: outcome.kind === "audit" || outcome.audited,
      ms: Math.round(outcome.durationMs * 1000) / 1000,
      remote: req.socket.remoteAddress,
      ...(r ? { pubkey: r.pubkey_hex, device_did: r.device_did, epoch_id: r.epoch_id, nonce: r.nonce, sizes: r.sizes } : {}),
      ...(outcome.kind === "accepted" ? { seq: outcome.seq, duplicate: outcome.duplicate } : {}),
      ...(outcome.kind === "audit" ? { rows: outcome.audit.rows.length, expires_at: outcome.audit.expires_at } : {}),
    };
    if (outcome.kind === "accepted") log.info(fields, outcome.duplicate ? "receipt already accepted" : "receipt accepted");
    else if (outcome.kind === "audit") log.info(fields, "audit requested");
    else if (outcome.rejection.status >= 500) log.error({ ...fields, err: outcome.cause }, outcome.rejection.message);
    else if (outcome.rejection.code === A.WORK_ROOT_MISMATCH || outcome.rejection.code === A.OPENING_MISMATCH) log.warn(fields, outcome.rejection.message);
    else log.info(fields, outcome.rejection.message);
  }

  const routes: Record<string, Partial<Record<string, Handler>>> = {
    "/challenge": {
      GET: async (_req, res) => sendJson(res, 200, epochs.challengeAt(clock())),
    },
    "/verify": { POST: pipelineRoute(deps.maxBodyBytes, (b) => pipeline.verify(b)) },
    "/audit": { POST: pipelineRoute(deps.maxOpeningsBytes, (b) => pipeline.openings(b)) },
    "/metrics": {
      GET: async (req, res) => {
        const { body, contentType } = await metrics.render(req.headers.accept);
        res.writeHead(200, { "content-type": contentType, "content-length": String(Buffer.byteLength(body)), "cache-control": "no-store" });
        res.end(body);
      },
    },
    "/healthz": {
      GET: async (_req, res) => {
        const { ok, ...report } = await deps.health();
        sendJson(res, ok ? 200 : 503, { status: ok ? "ok" : "failing", ...report });
      },
    },
    "/devices": {
      GET: async (req, res) => {
        const q = new Query(req);
        const windowS = q.int("window_s", 3600, 1, MAX_WINDOW_MS / 1000);
        const key = q.key();
        const limit = q.int("limit", 1000, 1, MAX_DEVICES);
        q.done();
        const devices = await deps.store.devices({ now: clock(), windowMs: windowS * 1000, limit, ...(key ? { key } : {}) });
        sendJson(res, 200, { window_s: windowS, devices: devices.map(deviceJson) });
      },
    },
    "/receipts": {
      GET: async (req, res) => {
        const q = new Query(req);
        const key = q.key();
        const since = q.int("since", undefined, 0, Number.MAX_SAFE_INTEGER);
        const limit = q.int("limit", 100, 1, MAX_PAGE);
        const cursor = q.string("cursor");
        q.done();
        const page = await deps.store.receipts({ limit, ...(key ? { key } : {}), ...(since !== undefined ? { since } : {}), ...(cursor ? { cursor } : {}) });
        sendJson(res, 200, { receipts: page.items.map(receiptJson), next_cursor: page.nextCursor });
      },
    },
  };

  return (req, res) => {
    // A client that vanishes mid-request must not crash the process through an unhandled 'error'.
    req.on("error", () => {});
    res.on("error", () => {});
    const path = (req.url ?? "/").split("?", 1)[0]!;
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (!route) return sendRejection(req, res, new VerifyRejection(A.NOT_FOUND, `no route ${JSON.stringify(path.slice(0, 100))}; try /challenge, /verify, /audit, /devices, /receipts, /metrics or /healthz`));
    const method = req.method === "HEAD" ? "GET" : (req.method ?? "");
    const handler = route[method];
    if (!handler) {
      const allow = Object.keys(route).flatMap((m) => (m === "GET" ? ["GET", "HEAD"] : [m])).join(", ");
      return sendRejection(req, res, new VerifyRejection(A.METHOD_NOT_ALLOWED, `${path} accepts ${allow}`), { allow });
    }
    handler(req, res).catch((e: unknown) => {
      if (e instanceof StoreQueryError || e instanceof QueryError) {
        return sendRejection(req, res, new VerifyRejection(A.BAD_QUERY, e.message, e.parameter));
      }
      log.error({ event: "http_error", path, err: e }, "request handler failed");
      if (!res.headersSent) sendJson(res, 500, new VerifyRejection(A.INTERNAL_ERROR, "internal error").toBody());
      else res.destroy();
    });
  };
}

/** A query parameter that is missing its shape or out of range: answered 400 BAD_QUERY. */
class QueryError extends RangeError {
  constructor(readonly parameter: string, message: string) {
    super(message);
  }
}

/** The query string, read strictly: each known parameter once, nothing unknown. */
class Query {
  private readonly params: URLSearchParams;
  private readonly used = new Set<string>();

  constructor(req: IncomingMessage) {
    this.params = new URL(req.url ?? "/", "http://localhost").searchParams;
  }

  string(name: string): string | undefined {
    this.used.add(name);
    const all = this.params.getAll(name);
    if (all.length > 1) throw new QueryError(name, `${name} is given more than once`);
    const v = all[0];
    return v === undefined || v === "" ? undefined : v;
  }

  int<T extends number | undefined>(name: string, fallback: T, min: number, max: number): number | T {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    if (!/^\d{1,16}$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new QueryError(name, `${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw.slice(0, 40))}`);
    return Number(raw);
  }

  key(): string | undefined {
    const key = this.string("key");
    if (key !== undefined && !isLowerHex(key, 33)) throw new QueryError("key", "key must be a compressed public key, 66 lowercase hex");
    return key;
  }

  /** Refuses parameters this route does not know (a typo must not silently widen a query). */
  done(): void {
    for (const name of this.params.keys()) if (!this.used.has(name)) throw new QueryError(name, `unknown parameter ${JSON.stringify(name.slice(0, 40))}`);
  }
}

/** Ops are bigints in the store; JSON carries them as decimal strings (they pass 2^53). */
function deviceJson(d: DeviceSummary) {
  return {
    pubkey_hex: d.pubkeyHex, device_did: d.deviceDid, receipts: d.receipts, verified_ops: d.verifiedOps.toString(),
    first_seen: d.firstSeen, last_seen: d.lastSeen, quarantined_until: d.quarantinedUntil, ops_per_second: d.opsPerSecond,
  };
}

function receiptJson(r: StoredReceipt) {
  return { seq: r.seq, accepted_at: r.acceptedAt, audited: r.audited, ops: r.ops.toString(), receipt: r.receipt };
}
