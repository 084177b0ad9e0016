/**
 * Fleet row: the whole selection at a glance, readable at any fleet size: workers up against
 * the targets Prometheus knows, fleet TOPS and success ratio, the k slowest / least successful
 * / most failing workers with a link to each one's view, and the alerts firing now.
 */
import * as bargauge from "@grafana/grafana-foundation-sdk/bargauge";
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import { runbookUrl } from "../config";
import { dashboardScope, ratioOrNothing, selector } from "../promql";
import { scrapeUp } from "../queries";
import { recorded } from "../rules/recording";
import {
  alertListPanel, describePanel, drillDownLink, provisionedDatasourceName, thresholds, units, withDataLinks, type SizedPanel,
} from "./common";

export const fleetTitle = "Fleet";

/** How many workers the top/bottom-k panels list. */
export const fleetK = 10;

const recordedHere = (name: string): string => selector(name, dashboardScope);

function fleetStat(): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false))
    .colorMode(common.BigValueColorMode.Value)
    .graphMode(common.BigValueGraphMode.Area)
    .textMode(common.BigValueTextMode.ValueAndName);
}

/** A horizontal bar per worker, sorted as the query returns them (topk/bottomk order). */
function rankedBars(): bargauge.PanelBuilder {
  return new bargauge.PanelBuilder()
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false))
    .orientation(common.VizOrientation.Horizontal)
    .displayMode(common.BarGaugeDisplayMode.Basic)
    .showUnfilled(true)
    .namePlacement(common.BarGaugeNamePlacement.Left);
}

export function fleetPanels(dashboardUid: string): SizedPanel[] {
  const up = describePanel(
    fleetStat().graphMode(common.BigValueGraphMode.None),
    {
      title: "Workers up / expected",
      description:
        "Worker targets whose last scrape succeeded (sum of up) against every worker target Prometheus knows (count of up). " +
        "A gap is a worker that is down (WorkerDown).",
      unit: units.count,
    },
    [
      { expr: `sum(${scrapeUp(dashboardScope)})`, legend: "up", instant: true },
      { expr: `count(${scrapeUp(dashboardScope)})`, legend: "expected", instant: true },
    ],
  ).decimals(0).thresholds(thresholds(["text", null]));

  const tops = describePanel(
    fleetStat(),
    {
      title: "Fleet TOPS",
      description: `Tera int8 operations per second the selected workers had accepted, summed (recording rule ${recorded.int8OpsRate}, 5m rate). TopsBelowFleetUsual compares the job's total with its own day.`,
      unit: units.tops,
    },
    [{ expr: `sum(${recordedHere(recorded.int8OpsRate)}) / 1e12`, legend: "fleet" }],
  ).thresholds(thresholds(["text", null]));

  const success = describePanel(
    fleetStat(),
    {
      title: "Fleet success ratio (5m)",
      description:
        `Successful attempts over all attempts of the selected workers in the last 5 minutes (recording rules ${recorded.successfulAttemptsRate} ` +
        `and ${recorded.attemptsRate}). Empty while no attempts are made.`,
      unit: units.ratio,
    },
    [{ expr: ratioOrNothing(`sum(${recordedHere(recorded.successfulAttemptsRate)})`, `sum(${recordedHere(recorded.attemptsRate)})`), legend: "fleet" }],
  ).min(0).max(1).thresholds(thresholds(["red", null], ["orange", 0.9], ["green", 0.99]));

  const drill = drillDownLink(dashboardUid, "Show this worker");
  const slowest = withDataLinks(describePanel(
    rankedBars(),
    {
      title: `Slowest ${fleetK} workers (TOPS)`,
      description: `The ${fleetK} selected workers with the lowest achieved TOPS over 5 minutes (recording rule ${recorded.int8OpsRate}). Click a bar for that worker.`,
      unit: units.tops,
    },
    [{ expr: `bottomk(${fleetK}, ${recordedHere(recorded.int8OpsRate)} / 1e12)`, legend: "{{instance}}", instant: true }],
  ).min(0).thresholds(thresholds(["blue", null])), [drill]);

  const leastSuccessful = withDataLinks(describePanel(
    rankedBars(),
    {
      title: `Lowest success ratio: ${fleetK} workers`,
      description: `The ${fleetK} selected workers with the lowest share of successful attempts over 5 minutes (recording rule ${recorded.attemptSuccessRatio}). Under 90% for 5 minutes fires LowSuccessRate. Click a bar for that worker.`,
      unit: units.ratio,
    },
    [{ expr: `bottomk(${fleetK}, ${recordedHere(recorded.attemptSuccessRatio)})`, legend: "{{instance}}", instant: true }],
  ).min(0).max(1).thresholds(thresholds(["red", null], ["orange", 0.9], ["green", 0.99])), [drill]);

  const mostFailing = withDataLinks(describePanel(
    rankedBars(),
    {
      title: `Most failed attempts: ${fleetK} workers`,
      description: `The ${fleetK} selected workers failing the most attempts per second over 5 minutes (recording rule ${recorded.failedAttemptsRate}). Click a bar for that worker.`,
      unit: units.attemptsPerSecond,
    },
    [{ expr: `topk(${fleetK}, ${recordedHere(recorded.failedAttemptsRate)})`, legend: "{{instance}}", instant: true }],
  ).min(0).thresholds(thresholds(["green", null], ["red", 0.01])), [drill]);

  const alerts = alertListPanel({
    title: "Worker alerts firing or pending",
    description: `The Prometheus alerts of the workers (job label ${"tops-worker"}, or tops/tops-worker on Kubernetes), firing or pending. What each means and what to do: ${runbookUrl}`,
    labelFilter: 'job=~".*tops-worker"',
  }, provisionedDatasourceName);

  return [
    { builder: up, width: 5, height: 6 },
    { builder: tops, width: 5, height: 6 },
    { builder: success, width: 5, height: 6 },
    { builder: alerts, width: 9, height: 6 },
    { builder: slowest, width: 8, height: 9 },
    { builder: leastSuccessful, width: 8, height: 9 },
    { builder: mostFailing, width: 8, height: 9 },
  ];
}
