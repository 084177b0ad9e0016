import { describe, expect, it } from "vitest";
import { VariantChooser } from "../../src/engine/chooser";

describe("VariantChooser", () => {
  it("times every candidate after its warm-up and keeps the fastest per size", () => {
    const lines: string[] = [];
    const c = new VariantChooser(["a", "b", "c"], { warmups: 1, samples: 2, log: (l) => lines.push(l) });
    const speed: Record<string, number> = { a: 30, b: 10, c: 20 };
    const order: string[] = [];
    for (let i = 0; i < 9; i++) {
      const v = c.pick("s1");
      order.push(v);
      c.record("s1", v, i % 3 === 0 ? 1000 : speed[v]!); // warm-ups are slow and must not count
    }
    expect(order).toEqual(["a", "a", "a", "b", "b", "b", "c", "c", "c"]);
    expect(c.pick("s1")).toBe("b");
    expect(c.chosen("s1")).toBe("b");
    expect(lines.join()).toContain("-> b");
    // Another size explores on its own.
    expect(c.pick("s2")).toBe("a");
  });

  it("drops a failed variant and skips ineligible ones", () => {
    const c = new VariantChooser(["a", "b"]);
    c.drop("a", "mismatch");
    expect(c.pick("s")).toBe("b");
    expect(c.usable).toEqual(["b"]);
    expect(() => c.pick("s", (v) => v !== "b")).toThrow(/no kernel variant can run s; disabled: a \(mismatch\)/);
  });
});
