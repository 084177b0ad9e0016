import { describe, expect, it } from "vitest";
import { LruByBytes } from "../src/lru-cache";

/** Values that record when they are released, to see what the cache keeps. */
function tracked() {
  const released: string[] = [];
  const cache = new LruByBytes<string>(100, async (v) => void released.push(v));
  const use = (key: string, bytes: number, during?: () => Promise<void>) =>
    cache.with(key, bytes, async () => key, async (v) => {
      await during?.();
      return v;
    });
  return { cache, released, use };
}

describe("LruByBytes", () => {
  it("keeps values within the budget, evicting the least recently used", async () => {
    const { cache, released, use } = tracked();
    await use("a", 40);
    await use("b", 40);
    await use("a", 40); // a is now the most recent
    await use("c", 40);
    expect(released).toEqual(["b"]);
    expect(cache.bytes).toBe(80);
    expect(cache.has("a") && cache.has("c")).toBe(true);
  });

  it("makes each value once while it stays cached", async () => {
    let made = 0;
    const cache = new LruByBytes<number>(100, async () => undefined);
    const make = async () => ++made;
    await Promise.all([cache.with("x", 10, make, async (v) => v), cache.with("x", 10, make, async (v) => v)]);
    await cache.with("x", 10, make, async (v) => v);
    expect(made).toBe(1);
  });

  it("releases an evicted value only after its run ends", async () => {
    const { released, use } = tracked();
    let finish!: () => void;
    const running = use("a", 60, () => new Promise<void>((r) => (finish = r)));
    await use("b", 60); // evicts a, which is still in use
    expect(released).toEqual([]);
    finish();
    await running;
    expect(released).toEqual(["a"]);
  });

  it("uses a value larger than the budget once, then releases it", async () => {
    const { cache, released, use } = tracked();
    expect(await use("big", 101)).toBe("big");
    expect(released).toEqual(["big"]);
    expect(cache.size).toBe(0);
  });

  it("does not keep a value that failed to build", async () => {
    const cache = new LruByBytes<string>(100, async () => undefined);
    await expect(cache.with("x", 10, () => Promise.reject(new Error("no")), async (v) => v)).rejects.toThrow("no");
    expect(cache.has("x")).toBe(false);
    expect(cache.bytes).toBe(0);
    expect(await cache.with("x", 10, async () => "ok", async (v) => v)).toBe("ok");
  });

  it("survives a release that fails", async () => {
    const cache = new LruByBytes<string>(10, () => Promise.reject(new Error("release failed")));
    await cache.with("a", 10, async () => "a", async (v) => v);
    expect(await cache.with("b", 10, async () => "b", async (v) => v)).toBe("b"); // evicts a
    await cache.clear();
    expect(cache.size).toBe(0);
  });

  it("clear releases everything idle", async () => {
    const { cache, released, use } = tracked();
    await use("a", 10);
    await use("b", 10);
    await cache.clear();
    expect(released.sort()).toEqual(["a", "b"]);
    expect(cache.size).toBe(0);
  });
});
