/**
 * The aggregator's pre-database ledger, reduced to what an accept costs: an in-memory replay
 * set (attempt and signature) and a JSON-lines file appended by one writer with group commit
 * (every append waiting at the same time shares one write and one fdatasync). Copied from
 * @tops/aggregator's jsonl.ts/ledger.ts/replay.ts for the side-by-side benchmark.
 */
import { open, type FileHandle } from "node:fs/promises";
import type { Receipt } from "@tops/protocol";
import type { AcceptOutcome, AttemptRecord } from "../src/types";

interface Pending {
  readonly text: string;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

export class JsonlBaseline {
  private pending: Pending[] = [];
  private writing: Promise<void> | null = null;
  private seq = 0;
  private readonly attempts = new Map<string, AttemptRecord>();
  private readonly signatures = new Set<string>();

  private constructor(private readonly handle: FileHandle) {}

  static async open(path: string): Promise<JsonlBaseline> {
    return new JsonlBaseline(await open(path, "a", 0o600));
  }

  async accept(receipt: Receipt, wireJson: string, acceptedAt: number, audited: boolean): Promise<AcceptOutcome> {
    const attempt = `${receipt.pubkey_hex}:${receipt.epoch_id}:${receipt.nonce}`;
    const held = this.attempts.get(attempt);
    if (held) return held.sigHex === receipt.sig_hex ? { kind: "duplicate", seq: held.seq, acceptedAt: held.acceptedAt } : { kind: "replay", rule: "attempt" };
    if (this.signatures.has(receipt.sig_hex)) return { kind: "replay", rule: "signature" };
    const seq = ++this.seq;
    this.attempts.set(attempt, { seq, sigHex: receipt.sig_hex, acceptedAt });
    this.signatures.add(receipt.sig_hex);
    await this.append(`{"seq":${seq},"accepted_at":${acceptedAt},"audited":${audited},"receipt":${wireJson}}\n`);
    return { kind: "stored", seq };
  }

  findAttempt(pubkeyHex: string, epochId: number, nonce: number): AttemptRecord | null {
    return this.attempts.get(`${pubkeyHex}:${epochId}:${nonce}`) ?? null;
  }

  signatureSeen(sigHex: string): boolean {
    return this.signatures.has(sigHex);
  }

  get stored(): number {
    return this.seq;
  }

  private append(text: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ text, resolve, reject });
      this.writing ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        await this.handle.appendFile(batch.map((p) => p.text).join(""));
        await this.handle.datasync();
        for (const p of batch) p.resolve();
      } catch (e) {
        for (const p of batch) p.reject(e as Error);
      }
    }
    this.writing = null;
  }

  async close(): Promise<void> {
    await this.writing;
    await this.handle.close();
  }
}
