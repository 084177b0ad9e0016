/**
 * The aggregator dashboard's rows: what it received and why it refused, how fast it verifies,
 * what its audits found, what its ledger holds, the throughput it verified, and which keys it
 * refuses. Per aggregator instance (job/instance variables), like the worker dashboard.
 */
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import { catalog } from "@tops/metrics";
import { runbookUrl } from "../config";
import { counterName, gaugeName, histogramName, histogramSeriesName } from "../metrics";
import { dashboardScope, histogramQuantile, maxBy, rate, ratioOrNothing, selector, sumBy } from "../promql";
import { receiptOutcome } from "../rules/alerts";
import { alertListPanel, dashedThresholds, describePanel, perWorkerLegend, provisionedDatasourceName, thresholds, timeseriesPanel, units, type SizedPanel } from "./common";
import type { PanelGroup } from "../layout";

const scope = dashboardScope;
/** The audit results the catalog lists (the label's closed set). */
const auditResults: readonly string[] = (catalog.aggregatorAudits.labelValues as { result?: readonly string[] }).result ?? [];
const receiptsRate = (by: readonly string[], extra: readonly string[] = []): string =>
  sumBy(by, rate(selector(counterName("aggregatorReceipts"), scope, extra), scope.window));
const verifyQuantile = (q: number): string =>
  histogramQuantile(q, sumBy([...scope.by, "le"], rate(selector(histogramSeriesName("aggregatorVerifyDurationMs", "bucket"), scope), scope.window)));

function current(): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false))
    .colorMode(common.BigValueColorMode.Value)
    .graphMode(common.BigValueGraphMode.Area);
}

function overview(): SizedPanel[] {
  const accepted = describePanel(
    current(),
    { title: "Receipts accepted", description: `Receipts accepted per second, per aggregator (rate of ${counterName("aggregatorReceipts")}{outcome="accepted"}).`, unit: units.receiptsPerSecond },
    [{ expr: receiptsRate(scope.by, ['outcome="accepted"']), legend: perWorkerLegend }],
  ).thresholds(thresholds(["text", null]));
  const rejectedShare = describePanel(
    current(),
    {
      title: "Rejected share",
      description: "Share of received receipts the aggregator refused. Above 5% for 5 minutes fires AggregatorRejectingReceipts; the code panel says why.",
      unit: units.ratio,
    },
    // No refusal yet is 0%, not "no data": the missing rejected series is filled from the total.
    [{
      expr: ratioOrNothing(
        `(${receiptsRate(scope.by, [`outcome="${receiptOutcome.rejected}"`])} or ${receiptsRate(scope.by)} * 0)`,
        receiptsRate(scope.by),
      ),
      legend: perWorkerLegend,
    }],
  ).min(0).max(1).thresholds(thresholds(["green", null], ["red", 0.05]));
  const verifiedTops = describePanel(
    current(),
    { title: "Verified TOPS", description: `Tera int8 operations per second in the receipts the aggregator accepted (rate of ${counterName("aggregatorVerifiedOps")} / 1e12).`, unit: units.tops },
    [{ expr: `${sumBy(scope.by, rate(selector(counterName("aggregatorVerifiedOps"), scope), scope.window))} / 1e12`, legend: perWorkerLegend }],
  ).thresholds(thresholds(["text", null]));
  const stored = describePanel(
    current(),
    { title: "Stored receipts", description: `Accepted receipts in the ledger, those loaded at start included (${gaugeName("aggregatorStoredReceipts")}).`, unit: units.count },
    [{ expr: maxBy(scope.by, selector(gaugeName("aggregatorStoredReceipts"), scope)), legend: perWorkerLegend }],
  ).decimals(0).thresholds(thresholds(["text", null]));
  const quarantined = describePanel(
    current().graphMode(common.BigValueGraphMode.None).colorMode(common.BigValueColorMode.Background),
    {
      title: "Quarantined keys",
      description: `Worker keys refused now because they failed an audit (${gaugeName("aggregatorQuarantinedKeys")}). The evidence is in DATA_DIR/quarantine.jsonl.`,
      unit: units.count,
    },
    [{ expr: maxBy(scope.by, selector(gaugeName("aggregatorQuarantinedKeys"), scope)), legend: perWorkerLegend }],
  ).decimals(0).thresholds(thresholds(["green", null], ["red", 1]));
  const alerts = alertListPanel({
    title: "Aggregator alerts firing or pending",
    description: `The Prometheus alerts of the aggregator, firing or pending. What each means and what to do: ${runbookUrl}`,
    labelFilter: 'job=~".*tops-aggregator"',
  }, provisionedDatasourceName);
  return [
    { builder: accepted, width: 4, height: 6 },
    { builder: rejectedShare, width: 4, height: 6 },
    { builder: verifiedTops, width: 4, height: 6 },
    { builder: stored, width: 4, height: 6 },
    { builder: quarantined, width: 3, height: 6 },
    { builder: alerts, width: 5, height: 6 },
  ];
}

function receipts(): SizedPanel[] {
  const byCode = describePanel(
    timeseriesPanel(),
    {
      title: "Receipts by outcome and code",
      description: `Receipts per second by outcome and error code (${counterName("aggregatorReceipts")}): accepted ones carry code OK; a refusal's code says why (KEY_NOT_ALLOWED, STALE_EPOCH, REPLAY, WORK_ROOT_MISMATCH, ...).`,
      unit: units.receiptsPerSecond,
    },
    [{ expr: receiptsRate(["outcome", "code"]), legend: "{{outcome}} {{code}}" }],
  );
  const latency = describePanel(
    timeseriesPanel(),
    { title: "Verify latency", description: `Median, 95th and 99th percentile time to verify one receipt (${histogramName("aggregatorVerifyDurationMs")}), per aggregator.`, unit: units.milliseconds },
    [
      { expr: verifyQuantile(0.5), legend: `p50 ${perWorkerLegend}` },
      { expr: verifyQuantile(0.95), legend: `p95 ${perWorkerLegend}` },
      { expr: verifyQuantile(0.99), legend: `p99 ${perWorkerLegend}` },
    ],
  );
  const audits = describePanel(
    timeseriesPanel(),
    {
      title: "Audits by result",
      description:
        `Audits per second by result (${counterName("aggregatorAudits")}; results: ${auditResults.join(", ")}). ` +
        "match: the opened rows checked out; mismatch: an opened row differs from the reference (forged or broken work), and bad_opening: the openings do not lead to work_root; both quarantine the key; timeout: no openings before the deadline; error: the aggregator could not check.",
      unit: units.countPerSecond,
    },
    [{ expr: sumBy(["result"], rate(selector(counterName("aggregatorAudits"), scope), scope.window)), legend: "{{result}}" }],
  );
  return [
    { builder: byCode, width: 12, height: 8 },
    { builder: latency, width: 12, height: 8 },
    { builder: audits, width: 24, height: 7 },
  ];
}

function ledger(): SizedPanel[] {
  const verifiedOps = describePanel(
    timeseriesPanel(),
    { title: "Verified ops per second", description: `int8 operations per second in accepted receipts (rate of ${counterName("aggregatorVerifiedOps")}), per aggregator.`, unit: units.opsPerSecond },
    [{ expr: sumBy(scope.by, rate(selector(counterName("aggregatorVerifiedOps"), scope), scope.window)), legend: perWorkerLegend }],
  ).min(0);
  const stored = describePanel(
    timeseriesPanel(),
    { title: "Stored receipts over time", description: `Receipts in the ledger (${gaugeName("aggregatorStoredReceipts")}).`, unit: units.count },
    [{ expr: maxBy(scope.by, selector(gaugeName("aggregatorStoredReceipts"), scope)), legend: perWorkerLegend }],
  ).decimals(0);
  const quarantined = describePanel(
    timeseriesPanel().thresholdsStyle(dashedThresholds()),
    { title: "Quarantined keys over time", description: `Keys under quarantine (${gaugeName("aggregatorQuarantinedKeys")}); a step up is an audit mismatch.`, unit: units.count },
    [{ expr: maxBy(scope.by, selector(gaugeName("aggregatorQuarantinedKeys"), scope)), legend: perWorkerLegend }],
  ).decimals(0).thresholds(thresholds(["transparent", null], ["red", 1]));
  return [
    { builder: verifiedOps, width: 8, height: 8 },
    { builder: stored, width: 8, height: 8 },
    { builder: quarantined, width: 8, height: 8 },
  ];
}

export function aggregatorPanelGroups(): PanelGroup[] {
  return [
    { title: "Overview", panels: overview() },
    { title: "Receipts and verification", panels: receipts() },
    { title: "Ledger and keys", panels: ledger() },
  ];
}
