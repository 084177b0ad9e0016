import { describe, expect, it } from "vitest";
import { PerTurnBatcher } from "../src/thread-protocol";

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("PerTurnBatcher", () => {
  it("hands over everything pushed in one turn of the event loop together, once", async () => {
    const sent: number[][] = [];
    const b = new PerTurnBatcher<number>((items) => sent.push(items));
    b.push(1);
    b.push(2);
    await Promise.resolve(); // a microtask later is still the same turn
    b.push(3);
    expect(sent).toEqual([]);
    await nextTurn();
    expect(sent).toEqual([[1, 2, 3]]);
  });

  it("starts a new batch for what is pushed in a later turn, and sends nothing when empty", async () => {
    const sent: string[][] = [];
    const b = new PerTurnBatcher<string>((items) => sent.push(items));
    b.push("a");
    await nextTurn();
    await nextTurn();
    b.push("b");
    b.push("c");
    await nextTurn();
    await nextTurn();
    expect(sent).toEqual([["a"], ["b", "c"]]);
  });

  it("flush() sends what waits at once, and the scheduled turn then sends nothing twice", async () => {
    const sent: number[][] = [];
    const b = new PerTurnBatcher<number>((items) => sent.push(items));
    b.push(7);
    b.flush();
    expect(sent).toEqual([[7]]);
    await nextTurn();
    expect(sent).toEqual([[7]]);
  });
});
