/**
 * Process row (both dashboards): CPU, resident memory and event-loop lag of each process, from
 * prom-client's default collectors that both services register (@tops/metrics). Event-loop lag
 * is what a scrape, a signal or an HTTP request waits before the process gets to it.
 */
import { PROCESS_METRIC_NAMES } from "@tops/metrics";
import { dashboardScope, maxBy, rate, selector, sumBy } from "../promql";
import { describePanel, perWorkerLegend, timeseriesPanel, units, type SizedPanel } from "./common";

export const processTitle = "Process";

export function processPanels(what: string): SizedPanel[] {
  const scope = dashboardScope;
  const cpu = describePanel(
    timeseriesPanel(),
    { title: "CPU", description: `CPU seconds per second used by each ${what} process (rate of ${PROCESS_METRIC_NAMES.cpuSeconds}); 1 = one core.`, unit: units.cpuShare },
    [{ expr: sumBy(scope.by, rate(selector(PROCESS_METRIC_NAMES.cpuSeconds, scope), scope.window)), legend: perWorkerLegend }],
  ).min(0);
  const memory = describePanel(
    timeseriesPanel(),
    { title: "Resident memory", description: `Resident set size of each ${what} process (${PROCESS_METRIC_NAMES.residentMemoryBytes}).`, unit: units.bytes },
    [{ expr: maxBy(scope.by, selector(PROCESS_METRIC_NAMES.residentMemoryBytes, scope)), legend: perWorkerLegend }],
  ).min(0);
  const lag = describePanel(
    timeseriesPanel(),
    {
      title: "Event-loop lag p99",
      description: `99th percentile event-loop delay of each ${what} process (${PROCESS_METRIC_NAMES.eventLoopLagP99Seconds}): how long timers, scrapes and requests wait for the loop.`,
      unit: units.seconds,
    },
    [{ expr: maxBy(scope.by, selector(PROCESS_METRIC_NAMES.eventLoopLagP99Seconds, scope)), legend: perWorkerLegend }],
  ).min(0);
  return [
    { builder: cpu, width: 8, height: 7 },
    { builder: memory, width: 8, height: 7 },
    { builder: lag, width: 8, height: 7 },
  ];
}
