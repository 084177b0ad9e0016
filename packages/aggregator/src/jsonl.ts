/**
 * A durable append-only JSON-lines file: the storage under the ledger and the quarantine list.
 *
 * - One writer: appends queue up and are written in order by a single loop, many lines per
 *   write when requests arrive together (group commit), each batch fdatasync'd before any of
 *   its callers is told it is stored. Lines can therefore never interleave.
 * - Crash repair on open: a crash can leave the last write torn (a line without its newline,
 *   or zero-filled blocks). Bad bytes at the end are truncated away and reported; a bad line
 *   followed by good ones is not a torn write but damage, and opening refuses.
 * - Fail-stop: after a failed write the file may end in a partial line, so every later append
 *   fails too until a restart repairs it.
 */
import { closeSync, fsyncSync, openSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";

export class CorruptFileError extends Error {
  override readonly name = "CorruptFileError";
}

export interface LoadReport {
  /** Records read and handed to onRecord. */
  readonly records: number;
  /** Bytes of a torn tail that were truncated (0 when the file was clean). */
  readonly repairedBytes: number;
  /** True when the file did not exist and was created. */
  readonly created: boolean;
}

const NEWLINE = 0x0a;
const READ_CHUNK = 1 << 16;

/** Makes a new directory entry durable (Linux needs the directory itself fsync'd). */
export function fsyncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Not every platform can fsync a directory (Windows); the data itself is still synced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

interface PendingAppend {
  readonly text: string;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

export class JsonLinesFile {
  private pending: PendingAppend[] = [];
  private writing: Promise<void> | null = null;
  private failure: Error | null = null;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  /**
   * Reads every record (repairing a torn tail first), then opens the file for appending.
   * `onRecord` may throw to declare a well-formed line invalid; that is reported as corruption.
   */
  static async open(path: string, onRecord: (value: unknown, lineNumber: number) => void): Promise<{ file: JsonLinesFile; report: LoadReport }> {
    const { records, validLength, size, existed } = await readRecords(path, onRecord);
    if (existed && validLength < size) {
      const fix = await open(path, "r+");
      try {
        await fix.truncate(validLength);
        await fix.sync();
      } finally {
        await fix.close();
      }
    }
    const handle = await open(path, "a", 0o600);
    if (!existed) fsyncDirectory(dirname(path));
    return { file: new JsonLinesFile(path, handle), report: { records, repairedBytes: size - validLength, created: !existed } };
  }

  /** Set once a write failed; every append after it fails with this error. */
  get failed(): Error | null {
    return this.failure;
  }

  /** Appends one record (a JSON text without newlines). Resolves once it is on disk. */
  append(json: string): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error(`${this.path} is closed`));
    if (json.includes("\n")) return Promise.reject(new Error("a JSON-lines record must not contain a newline"));
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ text: `${json}\n`, resolve, reject });
      this.writing ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        if (this.failure) throw this.failure;
        await this.handle.appendFile(batch.map((p) => p.text).join(""));
        await this.handle.datasync();
        for (const p of batch) p.resolve();
      } catch (e) {
        this.failure ??= e instanceof Error ? e : new Error(String(e));
        for (const p of batch) p.reject(this.failure);
      }
    }
    this.writing = null;
  }

  /** Waits for queued appends, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writing;
    await this.handle.close();
  }
}

interface ReadResult {
  readonly records: number;
  /** Offset just past the last good line: everything after it is a torn tail. */
  readonly validLength: number;
  readonly size: number;
  readonly existed: boolean;
}

async function readRecords(path: string, onRecord: (value: unknown, lineNumber: number) => void): Promise<ReadResult> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { records: 0, validLength: 0, size: 0, existed: false };
    throw e;
  }
  try {
    const size = (await handle.stat()).size;
    let records = 0;
    let lineNumber = 0;
    let validLength = 0;
    /** Offset and number of the first line that did not parse, while no good line came after it. */
    let firstBad: { offset: number; line: number } | null = null;
    let carry: Buffer = Buffer.alloc(0);
    let carryOffset = 0;
    const chunk = Buffer.alloc(READ_CHUNK);
    let position = 0;

    const takeLine = (bytes: Buffer, offset: number): void => {
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
        firstBad ??= { offset, line: lineNumber };
        return;
      }
      if (firstBad) {
        throw new CorruptFileError(`${path}: line ${firstBad.line} is not JSON yet line ${lineNumber} after it is; this is damage, not a torn write. Repair or move the file.`);
      }
      try {
        onRecord(value, lineNumber);
      } catch (e) {
        throw new CorruptFileError(`${path}: line ${lineNumber}: ${(e as Error).message}`);
      }
      records++;
      validLength = end;
    };

    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, READ_CHUNK, position);
      if (bytesRead === 0) break;
      const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      let start = 0;
      for (let nl = data.indexOf(NEWLINE, start); nl !== -1; nl = data.indexOf(NEWLINE, start)) {
        takeLine(data.subarray(start, nl), carryOffset + start);
        start = nl + 1;
      }
      // Copy: `chunk` is reused by the next read.
      carry = Buffer.from(data.subarray(start));
      carryOffset += start;
      position += bytesRead;
    }
    // Bytes after the last newline are a torn write whatever they contain: we always end lines.
    return { records, validLength, size, existed: true };
  } finally {
    await handle.close();
  }
}
