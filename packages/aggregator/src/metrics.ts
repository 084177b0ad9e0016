/**
 * The aggregator's own Prometheus metrics, on a registry per instance (tests start several):
 * names, help texts and buckets come from @tops/metrics' catalog through createAggregatorMetrics.
 *
 *   tops_aggregator_receipts_total{outcome="accepted"|"rejected", code="OK"|<error code>}
 *   tops_aggregator_verify_duration_ms   (histogram; parse → answer, excluding body upload time)
 *   tops_aggregator_audits_total{result="match"|"mismatch"|"bad_opening"|"timeout"|"error"}
 */
import { contentTypeOf, createAggregatorMetrics, negotiateFormat, renderRegistry, type AggregatorMetrics } from "@tops/metrics";
import { Registry } from "prom-client";
import type { VerifyErrorCode } from "./errors";

/** The `code` label of accepted receipts. */
export const ACCEPTED_CODE = "OK";

export type AuditResult = "match" | "mismatch" | "bad_opening" | "timeout" | "error";

export class AggregatorMetricsRegistry {
  readonly registry = new Registry();
  private readonly metrics: AggregatorMetrics = createAggregatorMetrics(this.registry);

  accepted(durationMs: number): void {
    this.metrics.receipts.inc({ outcome: "accepted", code: ACCEPTED_CODE });
    this.metrics.verifyDurationMs.observe(durationMs);
  }

  /** `durationMs` is absent for refusals before the pipeline (body too large, wrong media type). */
  rejected(code: VerifyErrorCode, durationMs?: number): void {
    this.metrics.receipts.inc({ outcome: "rejected", code });
    if (durationMs !== undefined) this.metrics.verifyDurationMs.observe(durationMs);
  }

  audit(result: AuditResult): void {
    this.metrics.audits.inc({ result });
  }

  /** Exposition text for an Accept header, and its content type. */
  async render(accept: string | undefined): Promise<{ body: string; contentType: string }> {
    const format = negotiateFormat(accept);
    return { body: await renderRegistry(this.registry, format), contentType: contentTypeOf(format) };
  }
}
