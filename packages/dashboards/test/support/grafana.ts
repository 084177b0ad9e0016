/**
 * Grafana's template variables, substituted the way Grafana does before a query reaches
 * Prometheus. `$job`/`$instance` take the dashboard's "All" value; the durations are
 * parameters so the lint test can tell `$__rate_interval` from a literal window.
 */
import type * as dashboardTypes from "@grafana/grafana-foundation-sdk/dashboard";
import type * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import { allValue, renderAggregatorDashboardJson, renderDashboardJson } from "../../src";

export interface GrafanaDurations {
  /** `$__rate_interval`: max(4 x scrape interval, $__interval + scrape interval). */
  readonly rateInterval: string;
  /** `$__range`: the dashboard's time range. */
  readonly range: string;
  /** `$__interval`: the step Grafana picks for the panel width. */
  readonly interval: string;
}

export function interpolate(expr: string, durations: GrafanaDurations): string {
  return expr
    .replace(/\$__rate_interval\b/g, durations.rateInterval)
    .replace(/\$__range\b/g, durations.range)
    .replace(/\$__interval\b/g, durations.interval)
    .replace(/\$\{?job\}?(?=\W|$)/g, allValue)
    .replace(/\$\{?instance\}?(?=\W|$)/g, allValue);
}

export type Panel = dashboardTypes.Panel;

/** The dashboard exactly as written to dashboards/tops-worker.json. */
export function generatedDashboard(): dashboardTypes.Dashboard {
  return JSON.parse(renderDashboardJson()) as dashboardTypes.Dashboard;
}

/** The dashboard exactly as written to dashboards/tops-aggregator.json. */
export function generatedAggregatorDashboard(): dashboardTypes.Dashboard {
  return JSON.parse(renderAggregatorDashboardJson()) as dashboardTypes.Dashboard;
}

/** Panel types that show no query of their own (rows group panels; alert lists read Grafana's alert state). */
export const panelTypesWithoutQueries: ReadonlySet<string> = new Set(["row", "alertlist"]);

/** All panels that query the datasource. */
export function queryPanels(dashboard: dashboardTypes.Dashboard): Panel[] {
  return (dashboard.panels ?? []).filter((panel): panel is Panel => !panelTypesWithoutQueries.has(panel.type));
}

export function promTargets(panel: Panel): prometheus.Dataquery[] {
  return (panel.targets ?? []) as prometheus.Dataquery[];
}

export interface PanelQuery {
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
  readonly instant: boolean;
}

export function panelQueries(dashboard: dashboardTypes.Dashboard): PanelQuery[] {
  return queryPanels(dashboard).flatMap((panel) =>
    promTargets(panel).map((target) => ({
      panel: panel.title ?? "(untitled)",
      refId: target.refId ?? "?",
      expr: target.expr,
      instant: target.instant === true,
    })),
  );
}
