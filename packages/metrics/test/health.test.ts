import { describe, expect, it } from "vitest";
import { evaluateHealth, evaluateReadiness, HEALTH_MIN_SAMPLE, HEALTH_WINDOW } from "../src/index";
import { OutcomeWindow } from "../src/health";

describe("evaluateHealth", () => {
  it.each([
    // consecutive, recent attempts, recent failures → status
    [0, 0, 0, "healthy"],
    [1, 1, 1, "healthy"], // one failed first attempt: too small a sample for the rate rule
    [2, 2, 2, "degraded"],
    [4, 4, 4, "degraded"],
    [5, 5, 5, "unhealthy"],
    [9, 9, 9, "unhealthy"],
    [10, 10, 10, "critical"],
    [250, 100, 100, "critical"],
    [0, 100, 20, "healthy"], // 0.2 is not > 0.2
    [0, 100, 21, "degraded"],
    [0, 100, 50, "degraded"], // 0.5 is not > 0.5
    [0, 100, 51, "unhealthy"],
    [1, 10, 3, "degraded"], // exactly the minimum sample counts
    [1, 9, 9, "healthy"], // below the minimum sample the rate is ignored
  ] as const)("consecutive=%i, %i/%i recent → %s", (consecutiveFailures, recentAttempts, recentFailures, status) => {
    expect(evaluateHealth({ consecutiveFailures, recentAttempts, recentFailures: recentAttempts === 0 ? 0 : recentFailures }).status).toBe(status);
  });

  it("explains non-healthy states and reports the rate only when it counts", () => {
    const e = evaluateHealth({ consecutiveFailures: 6, recentAttempts: 40, recentFailures: 30 });
    expect(e.status).toBe("unhealthy");
    expect(e.recentFailureRate).toBe(0.75);
    expect(e.reasons).toHaveLength(2);
    expect(evaluateHealth({ consecutiveFailures: 0, recentAttempts: HEALTH_MIN_SAMPLE - 1, recentFailures: 0 }).recentFailureRate).toBeNull();
    expect(evaluateHealth({ consecutiveFailures: 0, recentAttempts: 50, recentFailures: 0 }).reasons).toEqual([]);
  });
});

describe("evaluateReadiness", () => {
  it("is ready only with an engine and without a critical state", () => {
    expect(evaluateReadiness(false, "healthy").ready).toBe(false);
    expect(evaluateReadiness(true, "critical").ready).toBe(false);
    expect(evaluateReadiness(true, "unhealthy")).toEqual({ ready: true, reason: null });
  });
});

describe("OutcomeWindow", () => {
  it("keeps only the last HEALTH_WINDOW outcomes", () => {
    const w = new OutcomeWindow();
    for (let i = 0; i < HEALTH_WINDOW; i++) w.push(true);
    expect([w.attempts, w.failureCount]).toEqual([HEALTH_WINDOW, HEALTH_WINDOW]);
    for (let i = 0; i < 30; i++) w.push(false);
    expect([w.attempts, w.failureCount]).toEqual([HEALTH_WINDOW, HEALTH_WINDOW - 30]);
    for (let i = 0; i < HEALTH_WINDOW; i++) w.push(false);
    expect(w.failureCount).toBe(0);
  });
});
