import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { StatusLine } from "../../src/status-line";

const sizes = { m: 64, n: 64, k: 64, batch: 1 };

describe("status line", () => {
  it("shows rate, throughput, success, breaker, spool and the last error", () => {
    let now = 100_000;
    const line = new StatusLine(new PassThrough() as unknown as NodeJS.WriteStream, () => now);
    for (let i = 0; i < 9; i++) line.onEvent({ type: "accepted", nonce: i, sizes, timeMs: 5, ops: 2e9 });
    line.onEvent({ type: "failed", errorClass: "network", code: "AGGREGATOR_UNAVAILABLE", message: "down" });
    line.onEvent({ type: "spooled", nonce: 10, queued: 3, dropped: 0 });
    line.setBreaker("open");
    expect(line.render()).toBe("1.00 att/s | 1.80 GOPS | 90.0% ok (9/10) | breaker open | 3 spooled | last error network: AGGREGATOR_UNAVAILABLE (0 s ago)");
    now += 11_000; // the 10 s window has passed: rates fall to zero, totals stay
    expect(line.render()).toMatch(/^0\.00 att\/s \| 0\.00 GOPS \| 90\.0% ok \(9\/10\)/);
  });

  it("the spool count goes down as the spool drains; the last error ages out after a minute", () => {
    let now = 0;
    const line = new StatusLine(new PassThrough() as unknown as NodeJS.WriteStream, () => now);
    line.onEvent({ type: "failed", errorClass: "network", code: "AGGREGATOR_UNAVAILABLE", message: "down" });
    line.onEvent({ type: "spooled", nonce: 1, queued: 2, dropped: 0 });
    expect(line.render()).toContain("2 spooled");
    line.onEvent({ type: "resubmitted", id: "a", nonce: 1, outcome: "accepted", queued: 1 });
    expect(line.render()).toContain("1 spooled");
    line.onEvent({ type: "resubmitted", id: "b", nonce: 2, outcome: "accepted", queued: 0 });
    expect(line.render()).not.toContain("spooled");
    now += 30_000;
    expect(line.render()).toContain("last error network: AGGREGATOR_UNAVAILABLE (30 s ago)");
    now += 31_000;
    expect(line.render()).not.toContain("last error");
  });

  it("switches to TOPS at GPU speeds", () => {
    const line = new StatusLine(new PassThrough() as unknown as NodeJS.WriteStream, () => 0);
    line.onEvent({ type: "accepted", nonce: 1, sizes, timeMs: 5, ops: 3e14 });
    expect(line.render()).toContain("30.00 TOPS");
  });
});
