/**
 * Bounded on-disk spool of signed receipts the aggregator could not take yet.
 * One file per receipt, written to a temp name, fsynced and renamed, so a crash leaves
 * either the whole receipt or nothing. Names sort by time, so the oldest goes first.
 * When full, the oldest receipt is dropped (it is the likeliest to be past its epoch).
 */
import { open, readFile, readdir, rename, unlink } from "node:fs/promises";
import { ensureDirectory } from "@tops/env";
import { join } from "node:path";

export interface SpoolEntry {
  readonly id: string;
  readonly json: string;
}

export class Spool {
  private seq = 0;

  private constructor(
    readonly dir: string,
    readonly capacity: number,
    private readonly names: string[],
  ) {}

  static async open(dir: string, capacity: number): Promise<Spool> {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("spool capacity must be a positive integer");
    ensureDirectory(dir, "SPOOL_DIR");
    const files = await readdir(dir);
    // Leftover temp files are writes a crash cut short: the receipt was never spooled whole.
    await Promise.all(files.filter((f) => f.endsWith(".tmp")).map((f) => unlink(join(dir, f)).catch(() => undefined)));
    return new Spool(dir, capacity, files.filter((f) => f.endsWith(".json")).sort());
  }

  get size(): number {
    return this.names.length;
  }

  /** Stores a receipt; returns how many old receipts were dropped to make room. */
  async put(json: string): Promise<number> {
    const name = `${Date.now().toString().padStart(15, "0")}-${process.pid}-${(this.seq++).toString().padStart(8, "0")}.json`;
    const tmp = join(this.dir, `${name}.tmp`);
    const fh = await open(tmp, "w", 0o600);
    try {
      await fh.writeFile(json);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.dir, name));
    this.names.push(name);
    let dropped = 0;
    while (this.names.length > this.capacity) {
      await this.remove(this.names[0]!);
      dropped++;
    }
    return dropped;
  }

  /** The oldest receipt, or undefined when empty. A file that vanished or cannot be read is skipped. */
  async oldest(): Promise<SpoolEntry | undefined> {
    while (this.names.length > 0) {
      const id = this.names[0]!;
      try {
        return { id, json: await readFile(join(this.dir, id), "utf8") };
      } catch {
        this.names.shift();
      }
    }
    return undefined;
  }

  async remove(id: string): Promise<void> {
    const i = this.names.indexOf(id);
    if (i >= 0) this.names.splice(i, 1);
    await unlink(join(this.dir, id)).catch(() => undefined);
  }
}
