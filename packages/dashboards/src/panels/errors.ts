/** Errors row (contract): error rates by type, consecutive failures, error percentage. */
import { counterName, gaugeName } from "../metrics";
import { dashboardScope } from "../promql";
import { attemptFailureRatio, consecutiveFailures, errorKinds, errorRate } from "../queries";
import { dashedThresholds, describePanel, perWorkerLegend, thresholds, timeseriesPanel, units, type SizedPanel } from "./common";

export const errorsTitle = "Errors";

export function errorsPanels(): SizedPanel[] {
  const kinds = Object.keys(errorKinds) as (keyof typeof errorKinds)[];

  const byType = describePanel(
    timeseriesPanel(),
    {
      title: "Error rates by type",
      description: `Errors per second per worker, by kind (${kinds.map((kind) => counterName(errorKinds[kind])).join(", ")}).`,
      unit: units.errorsPerSecond,
    },
    kinds.map((kind) => ({ expr: errorRate(kind, dashboardScope), legend: `${kind} ${perWorkerLegend}` })),
  );

  // A gauge: shown as is. The contract's increase() on it was meaningless (increase assumes
  // a counter and treats every drop, i.e. every success, as a reset).
  const streak = describePanel(
    timeseriesPanel().thresholdsStyle(dashedThresholds()),
    {
      title: "Consecutive failures",
      description: `Current failure streak per worker (${gaugeName("consecutiveFailures")}). Above 10 for 1 minute fires ConsecutiveFailures (dashed line).`,
      unit: units.count,
    },
    [{ expr: consecutiveFailures(dashboardScope), legend: perWorkerLegend }],
  ).decimals(0).thresholds(thresholds(["transparent", null], ["red", 10]));

  const errorShare = describePanel(
    timeseriesPanel().thresholdsStyle(dashedThresholds()),
    {
      title: "Error percentage",
      description:
        "Share of attempts that failed, per worker. Empty (not 0/0) while a worker makes no attempts. " +
        "Above 5% for 2 minutes (5m window) fires HighErrorRate (dashed line).",
      unit: units.ratio,
    },
    [{ expr: attemptFailureRatio(dashboardScope), legend: perWorkerLegend }],
  ).min(0).thresholds(thresholds(["transparent", null], ["red", 0.05]));

  return [
    { builder: byType, width: 10, height: 8 },
    { builder: streak, width: 7, height: 8 },
    { builder: errorShare, width: 7, height: 8 },
  ];
}
