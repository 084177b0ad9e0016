import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Spool } from "../../src/spool";

const tmp = () => mkdtempSync(join(tmpdir(), "spool-"));

describe("spool", () => {
  it("keeps receipts on disk, oldest first, across reopen", async () => {
    const dir = tmp();
    const s = await Spool.open(dir, 10);
    for (let i = 0; i < 5; i++) await s.put(`{"n":${i}}`);
    expect(s.size).toBe(5);
    const again = await Spool.open(dir, 10);
    expect(again.size).toBe(5);
    const seen: string[] = [];
    for (let e = await again.oldest(); e; e = await again.oldest()) {
      seen.push(e.json);
      await again.remove(e.id);
    }
    expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => `{"n":${i}}`));
    expect(readdirSync(dir)).toEqual([]);
  });

  it("is bounded: past capacity the oldest are dropped and counted", async () => {
    const s = await Spool.open(tmp(), 3);
    const dropped: number[] = [];
    for (let i = 0; i < 5; i++) dropped.push(await s.put(`${i}`));
    expect(dropped).toEqual([0, 0, 0, 1, 1]);
    expect(s.size).toBe(3);
    expect((await s.oldest())?.json).toBe("2");
  });

  it("discards half-written temp files left by a crash", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "000000000000001-1-00000000.json.tmp"), "{partial");
    const s = await Spool.open(dir, 3);
    expect(s.size).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("refuses a nonsensical capacity", async () => {
    await expect(Spool.open(tmp(), 0)).rejects.toThrow(/capacity/);
  });
});
