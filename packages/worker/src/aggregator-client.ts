/**
 * HTTP client for the aggregator: fetch a challenge, submit a receipt, post the openings of an
 * audit. Every answer is sorted into accepted / audit (202: open these rows) / rejected (a 4xx
 * with an error code: retrying cannot help) / unavailable (network error, timeout, 5xx, 429:
 * worth retrying later).
 *
 * Also speaks to the Rust project's verifier, which has no /challenge (ChallengeUnsupported)
 * and answers every well-formed receipt 200 {"ok": true, "sig_ok": <bool>}: sig_ok false is a
 * signature refusal (SIG_NOT_OK), not a success.
 */
import { isLowerHex, MAX_AUDIT_ID_LENGTH, type AuditRequest } from "@tops/protocol";

export interface Challenge {
  readonly epochId: number;
  readonly prevHashHex: string;
  /** Unix milliseconds after which the aggregator rotates the epoch. */
  readonly expiresAt: number;
}

export type SubmitOutcome =
  /** `duplicate`: the aggregator had stored this receipt already (an earlier answer was lost). */
  | { readonly kind: "accepted"; readonly latencyMs: number; readonly seq?: number; readonly duplicate?: boolean }
  | { readonly kind: "audit"; readonly request: AuditRequest; readonly latencyMs: number }
  | { readonly kind: "rejected"; readonly status: number; readonly code: string; readonly message: string; readonly latencyMs: number }
  | { readonly kind: "unavailable"; readonly reason: string; readonly latencyMs: number };

export class AggregatorUnavailable extends Error {
  override readonly name = "AggregatorUnavailable";
}

/** The aggregator has no challenge endpoint (404/405/501), like the Rust project's verifier. */
export class ChallengeUnsupported extends Error {
  override readonly name = "ChallengeUnsupported";
}

/** POST /audit next to /verify. */
export function deriveAuditUrl(verifyUrl: string): string {
  const url = new URL(verifyUrl);
  url.pathname = url.pathname.endsWith("/verify") ? url.pathname.slice(0, -"/verify".length) + "/audit" : url.pathname.replace(/\/?$/, "/audit");
  return url.toString();
}

/** /verify → /challenge next to it, unless the URL has another shape. */
export function deriveChallengeUrl(verifyUrl: string): string {
  const url = new URL(verifyUrl);
  url.pathname = url.pathname.endsWith("/verify") ? url.pathname.slice(0, -"/verify".length) + "/challenge" : url.pathname.replace(/\/?$/, "/challenge");
  return url.toString();
}

export interface AggregatorClientOptions {
  readonly verifyUrl: string;
  readonly challengeUrl: string;
  /** Where openings go; default: /audit next to /verify. */
  readonly auditUrl?: string;
  readonly timeoutMs: number;
  /** Called with the latency of every request that got an HTTP answer or failed. */
  readonly onLatency?: (ms: number) => void;
}

export class AggregatorClient {
  constructor(private readonly options: AggregatorClientOptions) {}

  async challenge(): Promise<Challenge> {
    const started = performance.now();
    let res: Response;
    try {
      res = await fetch(this.options.challengeUrl, { signal: AbortSignal.timeout(this.options.timeoutMs) });
    } catch (e) {
      this.options.onLatency?.(performance.now() - started);
      throw new AggregatorUnavailable(`GET ${this.options.challengeUrl}: ${describeFetchError(e)}`);
    }
    const text = await res.text().catch(() => "");
    this.options.onLatency?.(performance.now() - started);
    if (res.status === 404 || res.status === 405 || res.status === 501) throw new ChallengeUnsupported(`GET ${this.options.challengeUrl}: HTTP ${res.status}`);
    if (!res.ok) throw new AggregatorUnavailable(`GET ${this.options.challengeUrl}: HTTP ${res.status}`);
    return parseChallenge(text);
  }

  submit(receiptJson: string): Promise<SubmitOutcome> {
    return this.post(this.options.verifyUrl, receiptJson);
  }

  /** The openings of a 202 (SPEC.md §8); answered like /verify's final answer. */
  submitOpenings(openingsJson: string): Promise<SubmitOutcome> {
    return this.post(this.options.auditUrl ?? deriveAuditUrl(this.options.verifyUrl), openingsJson);
  }

  private async post(url: string, body: string): Promise<SubmitOutcome> {
    const started = performance.now();
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      text = await res.text();
    } catch (e) {
      const latencyMs = performance.now() - started;
      this.options.onLatency?.(latencyMs);
      return { kind: "unavailable", reason: describeFetchError(e), latencyMs };
    }
    const latencyMs = performance.now() - started;
    this.options.onLatency?.(latencyMs);
    if (res.status === 202) {
      const request = auditRequestOf(text);
      return request ? { kind: "audit", request, latencyMs } : { kind: "unavailable", reason: "a 202 without a valid audit request", latencyMs };
    }
    if (res.ok) return acceptedOf(text, latencyMs);
    if (res.status >= 500 || res.status === 429 || res.status === 408) return { kind: "unavailable", reason: `HTTP ${res.status}`, latencyMs };
    const error = errorOf(text);
    return { kind: "rejected", status: res.status, code: error.code, message: error.message, latencyMs };
  }
}

function parseChallenge(text: string): Challenge {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new AggregatorUnavailable("challenge answer is not JSON");
  }
  const o = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  const { epoch_id, prev_hash_hex, expires_at } = o;
  if (!Number.isSafeInteger(epoch_id) || (epoch_id as number) < 0) throw new AggregatorUnavailable("challenge has no valid epoch_id");
  if (typeof prev_hash_hex !== "string" || !isLowerHex(prev_hash_hex, 32)) throw new AggregatorUnavailable("challenge has no valid prev_hash_hex");
  if (!Number.isSafeInteger(expires_at)) throw new AggregatorUnavailable("challenge has no valid expires_at");
  return { epochId: epoch_id as number, prevHashHex: prev_hash_hex, expiresAt: expires_at as number };
}

/** 200: ours says {accepted: true, seq, duplicate?}; the Rust verifier says {ok, sig_ok}. */
function acceptedOf(text: string, latencyMs: number): SubmitOutcome {
  let v: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null) v = parsed as Record<string, unknown>;
  } catch {
    // a 200 without JSON: accepted, with nothing more to say
  }
  if (v.sig_ok === false || v.ok === false) {
    return { kind: "rejected", status: 200, code: "SIG_NOT_OK", message: "the verifier answered sig_ok: false (the signature does not verify there)", latencyMs };
  }
  return {
    kind: "accepted", latencyMs,
    ...(Number.isSafeInteger(v.seq) ? { seq: v.seq as number } : {}),
    ...(v.duplicate === true ? { duplicate: true } : {}),
  };
}

function auditRequestOf(text: string): AuditRequest | null {
  try {
    const { audit } = JSON.parse(text) as { audit?: { audit_id?: unknown; rows?: unknown; expires_at?: unknown } };
    const rows = audit?.rows;
    if (
      typeof audit?.audit_id !== "string" || audit.audit_id.length === 0 || audit.audit_id.length > MAX_AUDIT_ID_LENGTH
      || !Array.isArray(rows) || rows.length === 0 || rows.length > 4096 || !rows.every((r) => Number.isSafeInteger(r) && (r as number) >= 0)
      || !Number.isSafeInteger(audit.expires_at)
    ) return null;
    return { audit_id: audit.audit_id, rows: rows as number[], expires_at: audit.expires_at as number };
  } catch {
    return null;
  }
}

function errorOf(text: string): { code: string; message: string } {
  try {
    const v = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (typeof v.error?.code === "string") return { code: v.error.code, message: String(v.error.message ?? "") };
  } catch {
    // fall through: a 4xx without our error shape
  }
  return { code: "UNKNOWN", message: text.slice(0, 200) };
}

function describeFetchError(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as Error & { cause?: { code?: string; message?: string } }).cause;
    if (e.name === "TimeoutError") return "timed out";
    return cause?.code ?? cause?.message ?? e.message;
  }
  return String(e);
}
