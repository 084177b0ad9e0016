/**
 * A raw HTTP client over node:http: unlike fetch it neither decompresses bodies nor
 * hides headers, and it can pick the local (source) address to act as another client.
 */
import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http";
import { gunzipSync } from "node:zlib";

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Bytes as sent on the wire. */
  readonly raw: Buffer;
  /** Body text, gunzipped when Content-Encoding says gzip. */
  readonly text: string;
}

export interface GetOptions {
  readonly method?: string;
  readonly headers?: OutgoingHttpHeaders;
  /** Source address, e.g. "127.0.0.2" to be a different client on loopback. */
  readonly localAddress?: string;
}

export function get(url: string, options: GetOptions = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: options.method ?? "GET",
      headers: options.headers ?? {},
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      agent: false,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const raw = Buffer.concat(chunks);
        const text = (res.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw).toString("utf8");
        resolve({ status: res.statusCode ?? 0, headers: res.headers, raw, text });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}
