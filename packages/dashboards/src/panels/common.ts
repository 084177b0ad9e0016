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

/** A panel ready for layout: its builder and the size it wants. */
export interface SizedPanel {
  readonly builder: PanelBuilder<unknown>;
  readonly width: number;
  readonly height: number;
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
