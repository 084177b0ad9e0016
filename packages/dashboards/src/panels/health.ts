/**
 * Health row (contract): worker status, last successful attempt, circuit breaker; plus the
 * receipt spool (queued and dropped receipts) and which build/device each worker runs.
 */
import * as common from "@grafana/grafana-foundation-sdk/common";
import { PromQueryFormat } from "@grafana/grafana-foundation-sdk/prometheus";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import * as table from "@grafana/grafana-foundation-sdk/table";
import { counterName, gaugeName, labelsOf } from "../metrics";
import { dashboardScope, maxBy, perWorker, selector } from "../promql";
import { circuitBreakerState, receiptsDroppedRate, receiptsQueued, scrapeUp, secondsSinceLastSuccess } from "../queries";
import { describePanel, perWorkerLegend, thresholds, timeseriesPanel, units, valueMappings, type SizedPanel } from "./common";

export const healthTitle = "Health";

/** A status tile: the current value only, coloured by its thresholds or mappings. */
function statusStat(): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false))
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(common.BigValueGraphMode.None);
}

export function healthPanels(): SizedPanel[] {
  const workerStatus = describePanel(
    statusStat(),
    {
      title: "Worker status",
      description: "UP when Prometheus's last scrape of the worker succeeded, DOWN when it failed (the up metric). DOWN for 1 minute fires WorkerDown.",
      unit: units.state,
    },
    [{ expr: scrapeUp(dashboardScope), legend: perWorkerLegend, instant: true }],
  ).mappings(valueMappings([[0, "DOWN", "red"], [1, "UP", "green"]]));

  const lastSuccess = describePanel(
    statusStat(),
    {
      title: "Last successful attempt",
      description:
        `Time since the worker's last successful attempt (${gaugeName("lastSuccessTimestamp")}). ` +
        "\"never\" until its first success. NoSuccessfulAttempts fires after 2 minutes without one while attempts are made.",
      unit: units.seconds,
    },
    [{ expr: secondsSinceLastSuccess(dashboardScope), legend: perWorkerLegend, instant: true }],
  ).noValue("never").thresholds(thresholds(["green", null], ["orange", 60], ["red", 120]));

  const breaker = describePanel(
    statusStat(),
    {
      title: "Circuit breaker",
      description:
        `State of the worker's circuit breaker towards the aggregator (${gaugeName("circuitBreakerState")}). ` +
        "While open, receipts go to the spool instead of the aggregator; open for 5 minutes fires CircuitBreakerOpen.",
      unit: units.state,
    },
    [{ expr: circuitBreakerState(dashboardScope), legend: perWorkerLegend, instant: true }],
  ).mappings(valueMappings([[0, "closed", "green"], [1, "half-open", "orange"], [2, "open", "red"]]));

  const buildLabels = [...perWorker, ...labelsOf("info")];
  const buildInfo = describePanel(
    new table.PanelBuilder().showHeader(true),
    {
      title: "Build and device",
      description: `Version, compute backend, adapter and kernel of each worker (labels of ${gaugeName("info")}).`,
      unit: units.state,
    },
    [{ expr: maxBy(buildLabels, selector(gaugeName("info"), dashboardScope)), legend: perWorkerLegend, instant: true, format: PromQueryFormat.Table }],
  ).withTransformation({
    // Show the labels as columns; Time and Value (always 1) say nothing.
    id: "organize",
    options: { excludeByName: { Time: true, Value: true }, indexByName: Object.fromEntries(buildLabels.map((label, index) => [label, index])) },
  });

  const spool = describePanel(
    timeseriesPanel(),
    {
      title: "Receipts waiting in spool",
      description:
        `Signed receipts waiting for resubmission (${gaugeName("receiptsQueued")}). Normally 0; ` +
        "a spool that stays non-empty for 15 minutes fires ReceiptsSpoolNotDraining.",
      unit: units.count,
    },
    [{ expr: receiptsQueued(dashboardScope), legend: perWorkerLegend }],
  ).decimals(0);

  const dropped = describePanel(
    timeseriesPanel(),
    {
      title: "Receipts dropped",
      description: `Signed receipts dropped because the spool was full (rate of ${counterName("receiptsDropped")}): lost work. Any drop fires ReceiptsDropped.`,
      unit: units.receiptsPerSecond,
    },
    [{ expr: receiptsDroppedRate(dashboardScope), legend: perWorkerLegend }],
  );

  return [
    { builder: workerStatus, width: 4, height: 5 },
    { builder: lastSuccess, width: 5, height: 5 },
    { builder: breaker, width: 5, height: 5 },
    { builder: buildInfo, width: 10, height: 5 },
    { builder: spool, width: 12, height: 7 },
    { builder: dropped, width: 12, height: 7 },
  ];
}
