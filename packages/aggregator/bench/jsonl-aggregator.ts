/**
 * The aggregator on the JSON-lines ledger it had before the database, for the side-by-side rows
 * of the /verify benchmark: the real CLI's config and HTTP pipeline, with the store replaced by
 * @tops/store's JSON-lines baseline (an in-memory replay index and one file appended with group
 * commit + fdatasync). Quarantine and queries are the in-memory minimum; the bench audits nothing.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { hexToBytes } from "@tops/protocol";
import type { AcceptOptions, AcceptOutcome, ActiveQuarantine, AttemptRecord, DeviceSummary, QuarantineEntry, ReceiptPage, ReceiptStore } from "@tops/store";
import { JsonlBaseline } from "@tops/store/jsonl-baseline";
import { configFromEnv, EPOCH_SECRET_FILE, startAggregator } from "../src/index";
import type { Receipt } from "@tops/protocol";

class JsonlLedgerStore implements ReceiptStore {
  /** Reported as the embedded engine: StoreEngine names only the shipped engines. */
  readonly engine = "embedded";
  private readonly quarantine: QuarantineEntry[] = [];

  constructor(
    private readonly ledger: JsonlBaseline,
    private readonly secret: Uint8Array,
  ) {}

  accept(receipt: Receipt, wireJson: string, opts: AcceptOptions): Promise<AcceptOutcome> {
    return this.ledger.accept(receipt, wireJson, opts.acceptedAt, opts.audited);
  }
  async findAttempt(pubkeyHex: string, epochId: number, nonce: number): Promise<AttemptRecord | null> {
    return this.ledger.findAttempt(pubkeyHex, epochId, nonce);
  }
  async signatureSeen(sigHex: string): Promise<boolean> {
    return this.ledger.signatureSeen(sigHex);
  }
  async addQuarantine(entry: QuarantineEntry): Promise<void> {
    this.quarantine.push(entry);
  }
  async refusedUntil(pubkeyHex: string, now: number): Promise<number | null> {
    const until = Math.max(0, ...this.quarantine.filter((q) => q.pubkeyHex === pubkeyHex).map((q) => q.until));
    return until > now ? until : null;
  }
  async activeQuarantines(now: number): Promise<ActiveQuarantine[]> {
    return this.quarantine.filter((q) => q.until > now).map((q) => ({ pubkeyHex: q.pubkeyHex, until: q.until }));
  }
  async quarantinedKeys(now: number): Promise<number> {
    return new Set(this.quarantine.filter((q) => q.until > now).map((q) => q.pubkeyHex)).size;
  }
  async epochSecret(): Promise<Uint8Array> {
    return this.secret;
  }
  async storedReceipts(): Promise<number> {
    return this.ledger.stored;
  }
  async devices(): Promise<DeviceSummary[]> {
    return [];
  }
  async receipts(): Promise<ReceiptPage> {
    return { items: [], nextCursor: null };
  }
  close(): Promise<void> {
    return this.ledger.close();
  }
}

const config = configFromEnv(process.env);
const secret = hexToBytes(readFileSync(join(config.dataDir, EPOCH_SECRET_FILE), "utf8").trim());
const store = new JsonlLedgerStore(await JsonlBaseline.open(join(config.dataDir, "ledger.jsonl")), secret);
const aggregator = await startAggregator(config, { store });
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void aggregator.close().then(() => process.exit(0)));
