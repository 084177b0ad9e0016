/**
 * HTTP client for the aggregator: fetch a challenge, submit a receipt. Every answer is
 * sorted into accepted / rejected (a 4xx with an error code: retrying cannot help) /
 * unavailable (network error, timeout, 5xx, 429: worth retrying later).
 */
import { isLowerHex } from "@tops/protocol";

export interface Challenge {
  readonly epochId: number;
  readonly prevHashHex: string;
  /** Unix milliseconds after which the aggregator rotates the epoch. */
  readonly expiresAt: number;
}

export type SubmitOutcome =
  | { readonly kind: "accepted"; readonly latencyMs: number }
  | { readonly kind: "rejected"; readonly status: number; readonly code: string; readonly message: string; readonly latencyMs: number }
  | { readonly kind: "unavailable"; readonly reason: string; readonly latencyMs: number };

export class AggregatorUnavailable extends Error {
  override readonly name = "AggregatorUnavailable";
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
    if (!res.ok) throw new AggregatorUnavailable(`GET ${this.options.challengeUrl}: HTTP ${res.status}`);
    return parseChallenge(text);
  }

  async submit(receiptJson: string): Promise<SubmitOutcome> {
    const started = performance.now();
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.options.verifyUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: receiptJson,
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
    if (res.ok) return { kind: "accepted", latencyMs };
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
