import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import type { Receipt } from "@tops/protocol";
import { openStore, type OpenStoreOptions, type ReceiptStore } from "../src";
import { newDatabaseAt } from "./pg-cluster";

export const pgAdminUrl = inject("pgAdminUrl");
export const pgUnavailable = inject("pgUnavailable");
export const havePostgres = pgAdminUrl !== null;

/** A directory holding an already-initialised PGlite database (copied from the template). */
export function freshEmbeddedDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tops-store-"));
  cpSync(inject("embeddedTemplate"), dir, { recursive: true });
  return dir;
}

export function emptyDir(): string {
  return mkdtempSync(join(tmpdir(), "tops-store-empty-"));
}

export async function freshDatabaseUrl(): Promise<string> {
  if (!pgAdminUrl) throw new Error(`no postgres: ${pgUnavailable}`);
  return newDatabaseAt(pgAdminUrl);
}

/** The embedded engines, each also on its worker thread ("-thread": openStore's embeddedThread: true), and PostgreSQL. */
export type EngineName = "sqlite" | "sqlite-thread" | "pglite" | "pglite-thread" | "postgres";
export const ENGINES: readonly { name: EngineName; skip: boolean; reason: string }[] = [
  { name: "sqlite", skip: false, reason: "" },
  { name: "sqlite-thread", skip: false, reason: "" },
  { name: "pglite", skip: false, reason: "" },
  { name: "pglite-thread", skip: false, reason: "" },
  { name: "postgres", skip: !havePostgres, reason: havePostgres ? "" : ` (skipped: ${pgUnavailable})` },
];
/** The engines that differ in storage (the -thread variants only move the same engine to a thread). */
export const STORAGE_ENGINES = ENGINES.filter((e) => !e.name.endsWith("-thread"));

/** Where a test's store lives: open it (again) with `open()`. */
export interface StoreLocation {
  readonly options: OpenStoreOptions;
  open(extra?: Partial<OpenStoreOptions>): Promise<ReceiptStore>;
  cleanup(): void;
}

export async function freshLocation(engine: EngineName): Promise<StoreLocation> {
  const pglite = engine.startsWith("pglite");
  const dataDir = pglite ? freshEmbeddedDir() : emptyDir();
  const options: OpenStoreOptions =
    engine === "postgres"
      ? { dataDir, databaseUrl: await freshDatabaseUrl() }
      : { dataDir, embeddedEngine: pglite ? "pglite" : "sqlite", embeddedThread: engine.endsWith("-thread") };
  return {
    options,
    open: (extra) => openStore({ ...options, ...extra }),
    cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

export const hex = (bytes: number): string => randomBytes(bytes).toString("hex");
export const pubkey = (): string => `02${hex(32)}`;

/** A receipt with the v2 shape (the store does not check signatures, only stores and indexes). */
export function makeReceipt(over: Partial<Receipt> = {}): Receipt {
  return {
    device_did: "did:tops:test-device",
    epoch_id: 29_925_498,
    prev_hash_hex: hex(32),
    nonce: 1,
    work_root_hex: hex(32),
    sizes: { m: 64, n: 64, k: 64, batch: 1 },
    time_ms: 12,
    kernel_ver: "k1",
    driver_hint: "test",
    sig_hex: hex(64),
    pubkey_hex: pubkey(),
    protocol_version: 2,
    ...over,
  };
}

export const wire = (r: Receipt): string => JSON.stringify(r);
