/**
 * Start-up does not read the ledger: with 1,000,000 receipts stored, opening the store and
 * answering the first queries takes no longer than with none (the bound: 2 s).
 */
import { describe, expect, it } from "vitest";
import { fillReceipts, fillKey, fillSig, FILL_T0 } from "./fill";
import { STORAGE_ENGINES, freshLocation, makeReceipt } from "./support";

const ROWS = 1_000_000;
const FIRST_ANSWER_MS = 2000;

for (const { name, skip, reason } of STORAGE_ENGINES) {
  describe.skipIf(skip)(`1,000,000 receipts on ${name}${reason}`, () => {
    it(`opens and answers its first queries within ${FIRST_ANSWER_MS} ms`, async () => {
      const loc = await freshLocation(name);
      try {
        const filling = await loc.open();
        await fillReceipts(filling, ROWS);
        await filling.close();

        const started = performance.now();
        const store = await loc.open();
        try {
          const count = await store.storedReceipts();
          const firstAnswerMs = performance.now() - started;
          console.log(`${name}: open + first answer with ${count} receipts: ${firstAnswerMs.toFixed(0)} ms`);
          expect(count).toBe(ROWS);
          expect(firstAnswerMs).toBeLessThan(FIRST_ANSWER_MS);

          // The constraints still hold at this size, and the queries use the indexes.
          const i = 777_777;
          expect(await store.findAttempt(fillKey(i), Math.floor(i / 1000), i)).toEqual({ seq: i, sigHex: fillSig(i), acceptedAt: FILL_T0 + i });
          const replay = makeReceipt({ pubkey_hex: fillKey(i), epoch_id: Math.floor(i / 1000), nonce: i });
          expect(await store.accept(replay, JSON.stringify(replay), { audited: false, acceptedAt: FILL_T0, ops: 1 })).toEqual({ kind: "replay", rule: "attempt" });
          const fresh = makeReceipt({ pubkey_hex: fillKey(5), device_did: "did:bench:5" });
          expect((await store.accept(fresh, JSON.stringify(fresh), { audited: false, acceptedAt: FILL_T0 + ROWS + 1, ops: 1 })).kind).toBe("stored");
          const page = await store.receipts({ key: fillKey(5), since: FILL_T0 + 500_000, limit: 3 });
          expect(page.items.map((s) => s.seq)).toEqual([500_005, 501_005, 502_005]);
          expect(page.items[0]?.receipt.pubkey_hex).toBe(fillKey(5));
          const devices = await store.devices({ now: FILL_T0 + ROWS, windowMs: 10_000, key: fillKey(5) });
          expect(devices).toHaveLength(1);
          expect(devices[0]?.receipts).toBe(ROWS / 1000 + 1);
          expect(await store.storedReceipts()).toBe(ROWS + 1);
        } finally {
          await store.close();
        }
      } finally {
        loc.cleanup();
      }
    }, 900_000);
  });
}
