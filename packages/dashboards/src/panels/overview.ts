/** Overview row (contract): success rate gauge, total attempts, uptime, current throughput. */
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as gauge from "@grafana/grafana-foundation-sdk/gauge";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import { counterName, gaugeName } from "../metrics";
import { dashboardScope, selector } from "../promql";
import { attemptsIncrease, reportedSuccessPercent, uptimeSeconds } from "../queries";
import { recorded } from "../rules/recording";
import { describePanel, perWorkerLegend, thresholds, units, type SizedPanel } from "./common";

const lastValue = (): common.ReduceDataOptionsBuilder => new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false);

/** A single-number panel with the shared look of this row. */
function statPanel(): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .reduceOptions(lastValue())
    .colorMode(common.BigValueColorMode.Value)
    .graphMode(common.BigValueGraphMode.Area);
}

export const overviewTitle = "Overview";

export function overviewPanels(): SizedPanel[] {
  const successRate = describePanel(
    new gauge.PanelBuilder().reduceOptions(lastValue()).min(0).max(1).showThresholdMarkers(true),
    {
      title: "Success rate (5m)",
      description:
        `Share of attempts that succeeded over the last 5 minutes, per worker (recording rule ${recorded.attemptSuccessRatio}). ` +
        "Below 90% for 5 minutes fires LowSuccessRate. Empty while a worker makes no attempts.",
      unit: units.ratio,
    },
    [{ expr: selector(recorded.attemptSuccessRatio, dashboardScope), legend: perWorkerLegend }],
  ).thresholds(thresholds(["red", null], ["orange", 0.9], ["green", 0.99]));

  const lifetimeSuccess = describePanel(
    statPanel().graphMode(common.BigValueGraphMode.None),
    {
      title: "Lifetime success rate",
      description: `The worker's own success rate since it started (${gaugeName("successRate")}, stored as percent x 100, hence / 100).`,
      unit: units.percent,
    },
    [{ expr: reportedSuccessPercent(dashboardScope), legend: perWorkerLegend, instant: true }],
  ).min(0).max(100).thresholds(thresholds(["red", null], ["orange", 90], ["green", 99]));

  const totalAttempts = describePanel(
    statPanel().graphMode(common.BigValueGraphMode.None),
    {
      title: "Total attempts",
      description:
        `Attempts made in the selected time range (increase of ${counterName("totalAttempts")}); ` +
        "unlike the raw counter this survives worker restarts.",
      unit: units.count,
    },
    [{ expr: attemptsIncrease(dashboardScope, "$__range"), legend: perWorkerLegend, instant: true }],
  ).decimals(0).thresholds(thresholds(["text", null]));

  const uptime = describePanel(
    statPanel(),
    { title: "Uptime", description: `Time since the worker process started (${gaugeName("uptimeSeconds")}).`, unit: units.seconds },
    [{ expr: uptimeSeconds(dashboardScope), legend: perWorkerLegend }],
  ).thresholds(thresholds(["orange", null], ["green", 300]));

  const throughput = describePanel(
    statPanel(),
    {
      title: "Current throughput",
      description: `Successful attempts per second over the last 5 minutes, per worker (recording rule ${recorded.successfulAttemptsRate}).`,
      unit: units.attemptsPerSecond,
    },
    [{ expr: selector(recorded.successfulAttemptsRate, dashboardScope), legend: perWorkerLegend }],
  ).thresholds(thresholds(["text", null]));

  return [
    { builder: successRate, width: 5, height: 7 },
    { builder: lifetimeSuccess, width: 4, height: 7 },
    { builder: totalAttempts, width: 5, height: 7 },
    { builder: uptime, width: 5, height: 7 },
    { builder: throughput, width: 5, height: 7 },
  ];
}
