/** Worker + aggregator + a real Prometheus: receipts are accepted and the counters rise in Prometheus. */
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { publicKeyHex, secretKeyFromHex } from "@tops/protocol";
import { getText, jsonLines, sampleValue, startAggregator, startPrometheus, startWorker, waitFor, type Aggregator, type Prometheus, type Worker } from "./harness";

const skHex = randomBytes(32).toString("hex");
const running: { stop(): Promise<unknown> }[] = [];
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
});

describe("full stack", () => {
  let aggregator: Aggregator;
  let worker: Worker;
  let prometheus: Prometheus;

  it("starts aggregator, worker and Prometheus", async () => {
    aggregator = await startAggregator({ ALLOWED_KEYS: publicKeyHex(secretKeyFromHex(skHex)), AUDIT_RATE: "1" });
    running.push(aggregator.proc);
    worker = await startWorker({ WORKER_SK_HEX: skHex, AGGREGATOR_URL: `${aggregator.url}/verify`, RATE_LIMIT: "10" });
    running.push(worker.proc);
    prometheus = await startPrometheus([
      { job: "tops-worker", target: worker.metricsUrl.replace("http://", ""), path: "/prometheus" },
      { job: "tops-aggregator", target: aggregator.url.replace("http://", ""), path: "/metrics" },
    ]);
    running.push(prometheus.proc);
  });

  it("the aggregator accepts the worker's receipts (every one audited)", async () => {
    const accepted = await waitFor("accepted receipts", async () => {
      const text = await getText(`${aggregator.url}/metrics`);
      const v = sampleValue(text, "tops_aggregator_receipts_total", 'outcome="accepted"');
      return v >= 3 ? v : undefined;
    });
    expect(accepted).toBeGreaterThanOrEqual(3);
    const worker_text = await getText(`${worker.metricsUrl}/prometheus`);
    expect(sampleValue(worker_text, "tops_worker_successful_attempts_total")).toBeGreaterThanOrEqual(3);
    expect(sampleValue(worker_text, "tops_worker_failed_attempts_total")).toBe(0);
    expect(sampleValue(worker_text, "tops_worker_int8_ops_total")).toBeGreaterThan(0);
  });

  it("Prometheus shows the worker's counters rising", async () => {
    const first = await waitFor("a first scrape with successes", async () => {
      const r = await prometheus.query("sum(tops_worker_successful_attempts_total)");
      const v = Number(r[0]?.value[1] ?? 0);
      return v > 0 ? v : undefined;
    });
    const later = await waitFor("the counter to rise", async () => {
      const r = await prometheus.query("sum(tops_worker_successful_attempts_total)");
      const v = Number(r[0]?.value[1] ?? 0);
      return v > first ? v : undefined;
    });
    expect(later).toBeGreaterThan(first);
    const up = await prometheus.query('up{job="tops-worker"}');
    expect(up[0]?.value[1]).toBe("1");
    const agg = await waitFor("aggregator series in Prometheus", async () => {
      const r = await prometheus.query('sum(tops_aggregator_receipts_total{outcome="accepted"})');
      return Number(r[0]?.value[1] ?? 0) > 0 ? r : undefined;
    });
    expect(agg.length).toBe(1);
  });

  it("stops cleanly on SIGTERM with exit code 0, leaving no signed receipt unaccounted for, and never printed its secret key", async () => {
    expect(await worker.proc.stop("SIGTERM")).toBe(0);
    const events = jsonLines(worker.proc.output());
    const settled = new Set(events.filter((e) => ["accepted", "spooled", "failed"].includes(e.event as string)).map((e) => e.nonce));
    const signed = events.filter((e) => e.event === "signed").map((e) => e.nonce);
    expect(signed.length).toBeGreaterThan(0);
    for (const nonce of signed) expect(settled.has(nonce), `signed nonce ${String(nonce)} was accepted, spooled or refused`).toBe(true);
    expect(events.at(-1)?.event).toBe("stop");
    expect(worker.proc.output()).not.toContain(skHex);
    expect(worker.proc.output()).toContain(publicKeyHex(secretKeyFromHex(skHex)));
  });
});
