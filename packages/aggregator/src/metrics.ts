/**
 * The aggregator's own Prometheus metrics, on a registry per instance (tests start several):
 * names, help texts and buckets come from @tops/metrics' catalog through createAggregatorMetrics.
 *
 *   tops_aggregator_receipts_total{outcome="accepted"|"rejected", code="OK"|<error code>}
 *   tops_aggregator_verify_duration_ms   (histogram; parse → answer, excluding body upload time)
 *   tops_aggregator_audits_total{result="match"|"mismatch"|"bad_opening"|"timeout"|"error"}
 *   tops_aggregator_stored_receipts, tops_aggregator_quarantined_keys   (read at scrape time)
 *   tops_aggregator_verified_ops_total                                  (ops of newly stored receipts)
 */
import { contentTypeOf, createAggregatorMetrics, negotiateFormat, renderRegistry, type AggregatorMetrics } from "@tops/metrics";
import { Registry } from "prom-client";
import type { VerifyErrorCode } from "./errors";

/** The `code` label of accepted receipts. */
export const ACCEPTED_CODE = "OK";

export type AuditResult = "match" | "mismatch" | "bad_opening" | "timeout" | "error";

/** Gauges read from the aggregator's state when scraped. */
export interface GaugeSources {
  readonly storedReceipts: () => Promise<number>;
  readonly quarantinedKeys: () => Promise<number>;
}

export class AggregatorMetricsRegistry {
  readonly registry = new Registry();
  private readonly metrics: AggregatorMetrics = createAggregatorMetrics(this.registry);
  private sources: GaugeSources | undefined;

  /** Where the stored-receipts and quarantined-keys gauges come from (set once the ledger is open). */
  readFrom(sources: GaugeSources): void {
    this.sources = sources;
  }

  /** A newly stored receipt (`ops`: its int8 operations); not for duplicates. */
  accepted(durationMs: number, ops = 0): void {
    this.metrics.receipts.inc({ outcome: "accepted", code: ACCEPTED_CODE });
    this.metrics.verifyDurationMs.observe(durationMs);
    if (ops > 0) this.metrics.verifiedOps.inc(ops);
  }

  /** `durationMs` is absent for refusals before the pipeline (body too large, wrong media type). */
  rejected(code: VerifyErrorCode, durationMs?: number): void {
    this.metrics.receipts.inc({ outcome: "rejected", code });
    if (durationMs !== undefined) this.metrics.verifyDurationMs.observe(durationMs);
  }

  /** Latency of one committed write transaction of the store. */
  dbCommit(ms: number): void {
    this.metrics.dbCommitDurationMs.observe(ms);
  }

  /** A database error, by class (the store's classification: connection, constraint, …). */
  dbError(errorClass: string): void {
    this.metrics.dbErrors.inc({ class: errorClass });
  }

  audit(result: AuditResult): void {
    this.metrics.audits.inc({ result });
  }

  /** Exposition text for an Accept header, and its content type. */
  async render(accept: string | undefined): Promise<{ body: string; contentType: string }> {
    if (this.sources) {
      // A database that does not answer leaves the last values (and counts in db_errors_total).
      const [stored, quarantined] = await Promise.allSettled([this.sources.storedReceipts(), this.sources.quarantinedKeys()]);
      if (stored.status === "fulfilled") this.metrics.storedReceipts.set(stored.value);
      if (quarantined.status === "fulfilled") this.metrics.quarantinedKeys.set(quarantined.value);
    }
    const format = negotiateFormat(accept);
    return { body: await renderRegistry(this.registry, format), contentType: contentTypeOf(format) };
  }
}
