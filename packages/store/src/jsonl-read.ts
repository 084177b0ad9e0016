/**
 * Reading the JSON-lines files of earlier aggregator versions (ledger.jsonl, quarantine.jsonl),
 * with their crash rule (copied from @tops/aggregator's jsonl.ts so the import does not depend
 * on it): bytes after the last newline, and trailing lines that are not JSON (zero-filled blocks
 * from a crash), are a torn tail, truncated away; a bad line followed by a good one is damage,
 * and the import refuses.
 */
import { open, type FileHandle } from "node:fs/promises";

export class CorruptFileError extends Error {
  override readonly name = "CorruptFileError";
}

export interface ScanReport {
  readonly records: number;
  /** Offset just past the last good line. */
  readonly validLength: number;
  readonly size: number;
}

const NEWLINE = 0x0a;
const READ_CHUNK = 1 << 16;

/**
 * Calls `onRecord` for every JSON line before `limit` bytes (default: the whole file), in order,
 * awaiting each. `onRecord` may throw to declare a well-formed line invalid (→ CorruptFileError).
 * Returns null when the file does not exist.
 */
export async function scanJsonLines(
  path: string,
  onRecord: (value: unknown, lineNumber: number) => void | Promise<void>,
  limit = Number.POSITIVE_INFINITY,
): Promise<ScanReport | null> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  try {
    const size = Math.min((await handle.stat()).size, limit);
    let records = 0;
    let lineNumber = 0;
    let validLength = 0;
    let firstBad: { line: number } | null = null;
    let carry: Buffer = Buffer.alloc(0);
    let carryOffset = 0;
    const chunk = Buffer.alloc(READ_CHUNK);
    let position = 0;

    const takeLine = async (bytes: Buffer, offset: number): Promise<void> => {
      lineNumber++;
      const end = offset + bytes.length + 1;
      const text = bytes.toString("utf8");
      if (text.trim() === "") {
        if (!firstBad) validLength = end;
        return;
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        firstBad ??= { line: lineNumber };
        return;
      }
      if (firstBad) {
        throw new CorruptFileError(`${path}: line ${firstBad.line} is not JSON yet line ${lineNumber} after it is; this is damage, not a torn write. Repair or move the file.`);
      }
      try {
        await onRecord(value, lineNumber);
      } catch (e) {
        throw new CorruptFileError(`${path}: line ${lineNumber}: ${(e as Error).message}`);
      }
      records++;
      validLength = end;
    };

    while (position < size) {
      const { bytesRead } = await handle.read(chunk, 0, Math.min(READ_CHUNK, size - position), position);
      if (bytesRead === 0) break;
      const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      let start = 0;
      for (let nl = data.indexOf(NEWLINE, start); nl !== -1; nl = data.indexOf(NEWLINE, start)) {
        await takeLine(data.subarray(start, nl), carryOffset + start);
        start = nl + 1;
      }
      carry = Buffer.from(data.subarray(start)); // `chunk` is reused by the next read
      carryOffset += start;
      position += bytesRead;
    }
    // Bytes after the last newline are a torn write whatever they contain: lines always end in one.
    return { records, validLength, size };
  } finally {
    await handle.close();
  }
}

/** Cuts a torn tail off (durably). */
export async function truncateTo(path: string, length: number): Promise<void> {
  const fix = await open(path, "r+");
  try {
    await fix.truncate(length);
    await fix.sync();
  } finally {
    await fix.close();
  }
}
