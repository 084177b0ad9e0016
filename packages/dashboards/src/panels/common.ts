/**
 * What every panel shares: the datasource variable, Prometheus targets, a title, a
 * description and a unit. Panel modules describe *what* to show; layout.ts places them.
 */
import type * as cog from "@grafana/grafana-foundation-sdk/cog";
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder, PromQueryFormat } from "@grafana/grafana-foundation-sdk/prometheus";
import * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";

/** Name of the dashboard's datasource variable. */
export const datasourceVariable = "datasource";

/** Name of the provisioned Prometheus datasource (deploy/grafana/provisioning/datasources): the alert lists read its rules. */
export const provisionedDatasourceName = "Prometheus";

/** Every panel and every target reads from the datasource variable, never a fixed uid. */
export const datasourceRef: common.DataSourceRef = { type: "prometheus", uid: `\${${datasourceVariable}}` };

/**
 * Grafana units used here. Custom `suffix:` units name the thing counted, since Grafana has
 * no "attempts/s" and "ops/s" would mislabel attempts and errors.
 */
export const units = {
  percent: "percent",
  ratio: "percentunit",
  seconds: "s",
  milliseconds: "ms",
  count: "short",
  /** For panels whose value mappings replace the number with words (UP/DOWN, open/closed). */
  state: "none",
  attemptsPerSecond: "suffix:attempts/s",
  errorsPerSecond: "suffix:errors/s",
  receiptsPerSecond: "suffix:receipts/s",
  tops: "suffix:TOPS",
  bytes: "bytes",
  cpuShare: "percentunit",
  opsPerSecond: "suffix:ops/s",
  countPerSecond: "suffix:/s",
} as const;

export type Unit = (typeof units)[keyof typeof units];

/** The builder methods every panel kind has; layout.ts uses `id` and `gridPos`. */
export interface PanelBuilder<Self> extends cog.Builder<dashboard.Panel> {
  id(id: number): Self;
  gridPos(gridPos: dashboard.GridPos): Self;
  title(title: string): Self;
  description(description: string): Self;
  unit(unit: string): Self;
  datasource(datasource: common.DataSourceRef): Self;
  targets(targets: cog.Builder<cog.Dataquery>[]): Self;
}

/** What layout.ts needs of a panel: numbering, placing and building it. */
export interface LayoutPanel extends cog.Builder<dashboard.Panel> {
  id(id: number): unknown;
  gridPos(gridPos: dashboard.GridPos): unknown;
}

/** A panel ready for layout: its builder and the size it wants. */
export interface SizedPanel {
  readonly builder: LayoutPanel;
  readonly width: number;
  readonly height: number;
}

/** A data link as Grafana 11 stores it in fieldConfig.defaults.links. */
export interface DataLink {
  readonly title: string;
  readonly url: string;
  readonly targetBlank?: boolean;
}

/**
 * A panel builder with plain data links on its fields. (The SDK's `dataLinks()` takes
 * dashboard-link builders and writes their dashboard-only fields into every data link.)
 */
export function withDataLinks(inner: LayoutPanel, links: readonly DataLink[]): LayoutPanel {
  return {
    id: (id: number) => inner.id(id),
    gridPos: (gridPos: dashboard.GridPos) => inner.gridPos(gridPos),
    build: () => {
      const panel = inner.build();
      const fieldConfig = panel.fieldConfig ?? { defaults: {}, overrides: [] };
      // The SDK types field links as dashboard links; Grafana's field links are {title, url, targetBlank}.
      const fieldLinks = links.map((l) => ({ ...l })) as unknown as dashboard.DashboardLink[];
      return { ...panel, fieldConfig: { ...fieldConfig, defaults: { ...fieldConfig.defaults, links: fieldLinks } } };
    },
  };
}

/**
 * Link from one series (a row of a top-k table or bar gauge) to the same dashboard scoped to
 * that worker: its job and instance become the variables, the time range is kept.
 */
export function drillDownLink(dashboardUid: string, title: string): DataLink {
  return {
    title,
    url: `/d/${dashboardUid}/${dashboardUid}?var-job=\${__field.labels.job}&var-instance=\${__field.labels.instance}&\${__url_time_range}&\${${datasourceVariable}:queryparam}`,
  };
}

export interface AlertListOptions {
  readonly title: string;
  readonly description: string;
  /** Only alerts whose name matches (Grafana's "Alert name" filter); empty for all. */
  readonly alertName?: string;
  /** Label filter on alert instances, e.g. `job=~"tops-worker.*"`. */
  readonly labelFilter?: string;
}

/**
 * Grafana's alert list panel (type `alertlist`, unified alerting) showing the firing and
 * pending alerts of the provisioned Prometheus (its rules are data source-managed). The SDK
 * has no builder for it, so the panel is written here; test/grafana-model.test.ts checks its
 * options against the pinned Grafana's.
 */
export function alertListPanel(options: AlertListOptions, datasourceName: string): LayoutPanel {
  let id = 0;
  let gridPos: dashboard.GridPos = { x: 0, y: 0, w: 24, h: 8 };
  const builder: LayoutPanel = {
    id: (value: number) => { id = value; return builder; },
    gridPos: (value: dashboard.GridPos) => { gridPos = value; return builder; },
    build: () => ({
      type: "alertlist",
      id,
      gridPos,
      title: options.title,
      description: options.description,
      transparent: false,
      options: {
        viewMode: "list",
        groupMode: "default",
        groupBy: [],
        maxItems: 20,
        sortOrder: 1,
        dashboardAlerts: false,
        alertName: options.alertName ?? "",
        alertInstanceLabelFilter: options.labelFilter ?? "",
        datasource: datasourceName,
        showInstances: true,
        stateFilter: { firing: true, pending: true, noData: false, normal: false, error: true },
      },
    }) as dashboard.Panel,
  };
  return builder;
}

export interface PanelText {
  readonly title: string;
  /** Shown in the panel's (i) tooltip: what the number means and where it comes from. */
  readonly description: string;
  readonly unit: Unit;
}

export interface Target {
  readonly expr: string;
  readonly legend: string;
  /** One value at the dashboard's end time instead of a series (stats, tables). */
  readonly instant?: boolean;
  readonly format?: PromQueryFormat;
}

function promTarget(target: Target, refId: string): DataqueryBuilder {
  const query = new DataqueryBuilder()
    .datasource(datasourceRef)
    .refId(refId)
    .expr(target.expr)
    .legendFormat(target.legend)
    .format(target.format ?? PromQueryFormat.TimeSeries);
  return target.instant ? query.instant() : query.range();
}

/** Title, description, unit, datasource and targets (refIds A, B, C, ...) on a panel builder. */
export function describePanel<B extends PanelBuilder<B>>(builder: B, text: PanelText, targets: readonly Target[]): B {
  return builder
    .title(text.title)
    .description(text.description)
    .unit(text.unit)
    .datasource(datasourceRef)
    .targets(targets.map((target, index) => promTarget(target, String.fromCharCode(65 + index))));
}

/** Absolute thresholds from `[color, from]` steps; the first step's `from` is the base (null). */
export function thresholds(...steps: readonly [color: string, from: number | null][]): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps(steps.map(([color, value]) => ({ color, value })));
}

/** Maps exact values to words and colours (worker status, circuit breaker). */
export function valueMappings(entries: readonly [value: number, text: string, color: string][]): dashboard.ValueMapping[] {
  const options: Record<string, dashboard.ValueMappingResult> = {};
  entries.forEach(([value, text, color], index) => {
    options[String(value)] = { text, color, index };
  });
  return [{ type: dashboard.MappingType.ValueToText, options }];
}

/** Legend for one series per worker. */
export const perWorkerLegend = "{{instance}}";

/** A time series panel with the shared look: thin lines, light fill, legend below, all series in the tooltip. */
export function timeseriesPanel(): timeseries.PanelBuilder {
  return new timeseries.PanelBuilder()
    .lineWidth(1)
    .fillOpacity(10)
    .showPoints(common.VisibilityMode.Never)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
}

/** Draws the thresholds as dashed lines, e.g. where an alert fires. */
export const dashedThresholds = (): common.GraphThresholdsStyleConfigBuilder =>
  new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed);
