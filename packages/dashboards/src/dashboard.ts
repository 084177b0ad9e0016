/**
 * The Grafana dashboards, built with @grafana/grafana-foundation-sdk and written to
 * dashboards/*.json: tops-worker (the fleet, and one worker through its variables) and
 * tops-aggregator. A datasource variable plus multi-value job and instance variables scope
 * every query, so one dashboard serves a fleet and any deployment's job names.
 */
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import { runbookUrl } from "./config";
import { gaugeName, histogramSeriesName } from "./metrics";
import { aggregatorPanelGroups } from "./panels/aggregator";
import { datasourceRef, datasourceVariable } from "./panels/common";
import { errorsPanels, errorsTitle } from "./panels/errors";
import { fleetPanels, fleetTitle } from "./panels/fleet";
import { healthPanels, healthTitle } from "./panels/health";
import { overviewPanels, overviewTitle } from "./panels/overview";
import { performancePanels, performanceTitle } from "./panels/performance";
import { processPanels, processTitle } from "./panels/process";
import { layOut, type PanelGroup } from "./layout";

/** Stable uids: Grafana URLs, drill-down links and the publish API key on them. */
export const dashboardUid = "tops-worker";
export const dashboardTitle = "tops-worker";
export const aggregatorDashboardUid = "tops-aggregator";
export const aggregatorDashboardTitle = "tops-aggregator";

/**
 * The dashboard model version of the Grafana that deploy/compose.yaml pins (grafana/grafana
 * 11.3.0: DashboardMigrator's DASHBOARD_SCHEMA_VERSION 39). The SDK writes its own, newer
 * one; Grafana 11.3 would take that for a dashboard from the future and skip its migrations.
 * test/grafana-model.test.ts checks this number and the fields against that version.
 */
export const grafanaSchemaVersion = 39;

/** Value of an "All" instance selection: a regex matching every value, including workers added later. */
export const allValue = ".*";

interface Variables {
  /** A metric every target of the dashboard exports from its first scrape: the variables list targets from it. */
  readonly presenceMetric: string;
}

function fleetVariable(name: "job" | "instance", label: string, query: string): dashboard.QueryVariableBuilder {
  const variable = new dashboard.QueryVariableBuilder(name)
    .label(label)
    .datasource(datasourceRef)
    .query(query)
    .definition(query)
    .multi(true)
    .includeAll(true)
    .current({ text: "All", value: "$__all" })
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc);
  // "All" jobs = the jobs listed (Grafana joins them into a regex), so `up{job=~"$job"}` never
  // counts Prometheus's or another service's targets; "All" instances = `.*`, which also
  // matches instances that appear after the variable was refreshed.
  return name === "instance" ? variable.allValue(allValue) : variable;
}

interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly variables: Variables;
  readonly groups: readonly PanelGroup[];
  readonly links: readonly dashboard.DashboardLinkBuilder[];
}

function runbookLink(): dashboard.DashboardLinkBuilder {
  return new dashboard.DashboardLinkBuilder("Runbooks")
    .type(dashboard.DashboardLinkType.Link)
    .url(runbookUrl)
    .icon("doc")
    .tooltip("What each alert means, what to check, how to fix it (docs/runbooks.md)")
    .targetBlank(true)
    .asDropdown(false)
    .includeVars(false)
    .keepTime(false)
    .tags([]);
}

function otherDashboardLink(title: string, uid: string): dashboard.DashboardLinkBuilder {
  return new dashboard.DashboardLinkBuilder(title)
    .type(dashboard.DashboardLinkType.Link)
    .url(`/d/${uid}/${uid}`)
    .icon("dashboard")
    .tooltip(`Open the ${title} dashboard for the same time range`)
    .targetBlank(false)
    .asDropdown(false)
    .includeVars(false)
    .keepTime(true)
    .tags([]);
}

function build(spec: DashboardSpec): dashboard.Dashboard {
  const builder = new dashboard.DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags([...spec.tags])
    .time({ from: "now-1h", to: "now" })
    .refresh("30s")
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .links([...spec.links])
    // Grafana's own "Annotations & Alerts" entry; Grafana adds it when missing, so without
    // it every save in the UI would show a diff against the generated file.
    .annotation(
      new dashboard.AnnotationQueryBuilder()
        .name("Annotations & Alerts")
        .datasource({ type: "grafana", uid: "-- Grafana --" })
        .builtIn(1)
        .enable(true)
        .hide(true)
        .iconColor("rgba(0, 211, 255, 1)")
        .type("dashboard"),
    )
    .withVariable(new dashboard.DatasourceVariableBuilder(datasourceVariable).label("Data source").type("prometheus"))
    .withVariable(fleetVariable("job", "Job", `label_values(${spec.variables.presenceMetric}, job)`))
    .withVariable(fleetVariable("instance", "Instance", `label_values(${spec.variables.presenceMetric}{job=~"$job"}, instance)`));
  return forPinnedGrafana(layOut(builder, spec.groups).build());
}

/** Variable fields the SDK writes that are not in Grafana 11.3's model (interval-variable and newer options). */
const newerVariableFields = ["allowCustomValue", "auto", "auto_min", "auto_count"] as const;

/**
 * The SDK models a newer Grafana than deploy/compose.yaml pins: set that Grafana's schema
 * version and drop the few fields its dashboard model does not have (`placement` of links and
 * annotations, newer variable options), so the file is exactly what Grafana 11.3 would save.
 */
function forPinnedGrafana(built: dashboard.Dashboard): dashboard.Dashboard {
  const copy = JSON.parse(JSON.stringify(built)) as dashboard.Dashboard & Record<string, unknown>;
  copy.schemaVersion = grafanaSchemaVersion;
  for (const link of copy.links ?? []) delete (link as { placement?: unknown }).placement;
  for (const annotation of copy.annotations?.list ?? []) delete (annotation as { placement?: unknown }).placement;
  for (const variable of copy.templating?.list ?? []) {
    const fields = variable as unknown as Record<string, unknown>;
    for (const field of newerVariableFields) delete fields[field];
  }
  return copy;
}

export function buildDashboard(): dashboard.Dashboard {
  return build({
    uid: dashboardUid,
    title: dashboardTitle,
    description:
      "tops-worker fleet: fleet aggregates and top/bottom workers first (click one to scope the dashboard to it), then success, " +
      "performance, errors, health and process of the selected workers. Generated by packages/dashboards; edits in Grafana are overwritten.",
    tags: ["tops-worker", "generated"],
    variables: { presenceMetric: gaugeName("uptimeSeconds") },
    links: [runbookLink(), otherDashboardLink("tops-aggregator", aggregatorDashboardUid)],
    groups: [
      { title: fleetTitle, panels: fleetPanels(dashboardUid) },
      { title: overviewTitle, panels: overviewPanels() },
      { title: performanceTitle, panels: performancePanels() },
      { title: errorsTitle, panels: errorsPanels() },
      { title: healthTitle, panels: healthPanels() },
      { title: processTitle, panels: processPanels("worker") },
    ],
  });
}

export function buildAggregatorDashboard(): dashboard.Dashboard {
  return build({
    uid: aggregatorDashboardUid,
    title: aggregatorDashboardTitle,
    description:
      "The tops aggregator: receipts by outcome and code, verification latency, audits, the ledger, verified throughput and " +
      "quarantined keys. Generated by packages/dashboards; edits in Grafana are overwritten.",
    tags: ["tops-worker", "tops-aggregator", "generated"],
    // Unlabelled histogram: exported from the first scrape, before any receipt arrives.
    variables: { presenceMetric: histogramSeriesName("aggregatorVerifyDurationMs", "count") },
    links: [runbookLink(), otherDashboardLink("tops-worker", dashboardUid)],
    groups: [...aggregatorPanelGroups(), { title: processTitle, panels: processPanels("aggregator") }],
  });
}
