/**
 * PGlite on Node, made durable.
 *
 * As shipped, PGlite (0.5.x) never reaches the disk: it starts Postgres with `-F` (fsync off),
 * Emscripten's fdatasync is a no-op, and its NODEFS has no fsync at all. A committed transaction
 * is then in the OS page cache only — it survives `kill -9` of the process but not a power
 * failure or kernel crash. Here:
 *  - Postgres runs with fsync = on and wal_sync_method = fsync (fsync(2), the one call that
 *    reaches Emscripten's fd_sync), so it syncs the WAL at every commit and data files and
 *    directories at checkpoints, exactly as a server does;
 *  - NODEFS's fd_sync is given a real fsync on the underlying Node file descriptor.
 */
import { fsyncSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { NodeFS } from "@electric-sql/pglite/nodefs";

type InitResult = Awaited<ReturnType<NodeFS["init"]>>;
type PostgresModule = Parameters<NodeFS["init"]>[1] extends Partial<infer M> ? M : never;

interface NodeFsStream {
  readonly nfd?: number;
}
interface NodeFsType {
  stream_ops: { fsync?: (stream: NodeFsStream) => number };
}

export class DurableNodeFS extends NodeFS {
  /** fsync calls made on behalf of Postgres (tests check that commits really sync). */
  syncs = 0;

  override async init(pg: PGlite, opts: Partial<PostgresModule>): Promise<InitResult> {
    const result = await super.init(pg, opts);
    const preRun = [
      ...(result.emscriptenOpts.preRun ?? []),
      (mod: PostgresModule) => {
        const nodefs = mod.NODEFS as unknown as NodeFsType;
        nodefs.stream_ops.fsync = (stream) => {
          if (stream.nfd !== undefined) fsyncSync(stream.nfd);
          this.syncs++;
          return 0;
        };
      },
    ];
    return { ...result, emscriptenOpts: { ...result.emscriptenOpts, preRun } };
  }
}

/** PGlite's start parameters without `-F`, syncing the WAL with fsync(2). */
export function durableStartParams(): string[] {
  return [...PGlite.defaultStartParams.filter((p) => p !== "-F"), "-c", "fsync=on", "-c", "wal_sync_method=fsync", "-c", "synchronous_commit=on"];
}
