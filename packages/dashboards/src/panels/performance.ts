/**
 * Performance row (contract): attempt-duration histogram, mean/median/p95, throughput over
 * time; plus achieved TOPS and network latency.
 */
import * as heatmap from "@grafana/grafana-foundation-sdk/heatmap";
import { PromQueryFormat } from "@grafana/grafana-foundation-sdk/prometheus";
import { counterName, histogramName } from "../metrics";
import { dashboardScope } from "../promql";
import {
  attemptDurationBucketRates, attemptDurationMean, attemptDurationQuantile, attemptsRate, failedAttemptsRate,
  int8OpsRate, networkLatencyQuantile, successfulAttemptsRate,
} from "../queries";
import { dashedThresholds, describePanel, perWorkerLegend, thresholds, timeseriesPanel, units, type SizedPanel } from "./common";

export const performanceTitle = "Performance";

export function performancePanels(): SizedPanel[] {
  const durationHeatmap = describePanel(
    new heatmap.PanelBuilder()
      // The buckets come pre-computed from Prometheus; Grafana must not re-bucket them.
      .calculate(false)
      .yAxis(new heatmap.YAxisConfigBuilder().unit(units.milliseconds).axisLabel("attempt duration"))
      .cellValues(new heatmap.CellValuesBuilder().unit(units.attemptsPerSecond))
      .color(
        new heatmap.HeatmapColorOptionsBuilder()
          .mode(heatmap.HeatmapColorMode.Scheme).scheme("Oranges").fill("dark-orange")
          .scale(heatmap.HeatmapColorScale.Exponential).exponent(0.5).steps(64),
      )
      .showLegend(),
    {
      title: "Attempt duration distribution",
      description:
        `Attempts per second in each duration bucket of ${histogramName("attemptDurationMs")}, all selected workers together. ` +
        "The y axis is the bucket's upper bound in milliseconds.",
      unit: units.attemptsPerSecond,
    },
    [{ expr: attemptDurationBucketRates(dashboardScope), legend: "{{le}}", format: PromQueryFormat.Heatmap }],
  );

  const durationQuantiles = describePanel(
    timeseriesPanel().thresholdsStyle(dashedThresholds()),
    {
      title: "Attempt duration: mean, median, p95",
      description:
        `Mean (rate of _sum / rate of _count), median and 95th percentile of ${histogramName("attemptDurationMs")}, per worker. ` +
        "The dashed line is HighResponseTime's threshold (p95 over 1000 ms for 5 minutes).",
      unit: units.milliseconds,
    },
    [
      { expr: attemptDurationMean(dashboardScope), legend: `mean ${perWorkerLegend}` },
      { expr: attemptDurationQuantile(0.5, dashboardScope), legend: `p50 ${perWorkerLegend}` },
      { expr: attemptDurationQuantile(0.95, dashboardScope), legend: `p95 ${perWorkerLegend}` },
    ],
  ).thresholds(thresholds(["transparent", null], ["red", 1000]));

  const throughput = describePanel(
    timeseriesPanel(),
    {
      title: "Throughput",
      description: "Attempts per second per worker: all attempts, the successful ones and the failed ones.",
      unit: units.attemptsPerSecond,
    },
    [
      { expr: attemptsRate(dashboardScope), legend: `attempts ${perWorkerLegend}` },
      { expr: successfulAttemptsRate(dashboardScope), legend: `successful ${perWorkerLegend}` },
      { expr: failedAttemptsRate(dashboardScope), legend: `failed ${perWorkerLegend}` },
    ],
  );

  const achievedTops = describePanel(
    timeseriesPanel(),
    {
      title: "Achieved TOPS",
      description:
        `Tera int8 operations per second in attempts the aggregator accepted (rate of ${counterName("int8Ops")} / 1e12), per worker.`,
      unit: units.tops,
    },
    [{ expr: `${int8OpsRate(dashboardScope)} / 1e12`, legend: perWorkerLegend }],
  );

  const networkLatency = describePanel(
    timeseriesPanel(),
    {
      title: "Network latency: median, p95",
      description: `Median and 95th percentile of ${histogramName("networkLatencyMs")} (worker to aggregator requests), per worker.`,
      unit: units.milliseconds,
    },
    [
      { expr: networkLatencyQuantile(0.5, dashboardScope), legend: `p50 ${perWorkerLegend}` },
      { expr: networkLatencyQuantile(0.95, dashboardScope), legend: `p95 ${perWorkerLegend}` },
    ],
  );

  return [
    { builder: durationHeatmap, width: 12, height: 8 },
    { builder: durationQuantiles, width: 12, height: 8 },
    { builder: throughput, width: 8, height: 8 },
    { builder: achievedTops, width: 8, height: 8 },
    { builder: networkLatency, width: 8, height: 8 },
  ];
}
