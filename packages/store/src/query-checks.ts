/** Checks of query parameters shared by both stores: a bad one is a StoreQueryError (HTTP 400). */
import { StoreQueryError, type DeviceQuery } from "./types";

/** Largest page of GET /receipts. */
export const MAX_PAGE = 1000;
/** Largest answer of GET /devices. */
export const MAX_DEVICES = 10_000;
/** Longest ops/s window. */
export const MAX_WINDOW_MS = 366 * 24 * 3600 * 1000;

/** Kept local (not @tops/protocol's): the database thread then loads no crypto or schema library. */
const COMPRESSED_KEY = /^0[23][0-9a-f]{64}$/;

export function checkKey(key: string, parameter = "key"): void {
  if (!COMPRESSED_KEY.test(key)) {
    throw new StoreQueryError(parameter, `${parameter} must be a compressed public key: 66 lowercase hex characters starting 02 or 03`);
  }
}

export function checkInteger(value: number, parameter: string, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new StoreQueryError(parameter, `${parameter} must be an integer in ${min}..${max}`);
  }
}

/** Cursors are the seq of the last item, as decimal text: opaque to clients, cheap to check. */
export function parseCursor(cursor: string): number {
  if (!/^[1-9]\d{0,15}$/.test(cursor) || !Number.isSafeInteger(Number(cursor))) {
    throw new StoreQueryError("cursor", "cursor is not one this server returned");
  }
  return Number(cursor);
}

/** Checks a devices query; returns its limit (default MAX_DEVICES). */
export function checkDeviceQuery(q: DeviceQuery): number {
  checkInteger(q.now, "now", 0, Number.MAX_SAFE_INTEGER);
  checkInteger(q.windowMs, "window", 1, MAX_WINDOW_MS);
  const limit = q.limit ?? MAX_DEVICES;
  checkInteger(limit, "limit", 1, MAX_DEVICES);
  if (q.key !== undefined) checkKey(q.key);
  return limit;
}
