/** Series names an expression may use: catalog metrics (histograms with their _bucket/_sum/_count), recording rules, `up`. */
import { catalog, PROCESS_METRIC_NAMES, type MetricKey } from "@tops/metrics";
import { recordedNames } from "../../src";

export type SeriesKind = "counter" | "gauge" | "histogram-series" | "recorded" | "up";

/** prom-client's default collectors that the dashboards read: counters by their _total name, the rest gauges. */
const processSeries = Object.values(PROCESS_METRIC_NAMES).map((name): [string, SeriesKind] => [name, name.endsWith("_seconds_total") ? "counter" : "gauge"]);

export const knownSeries: ReadonlyMap<string, SeriesKind> = new Map<string, SeriesKind>([
  ...(Object.keys(catalog) as MetricKey[]).flatMap((key): [string, SeriesKind][] => {
    const { name, type } = catalog[key];
    if (type === "histogram") return ["bucket", "sum", "count"].map((suffix) => [`${name}_${suffix}`, "histogram-series"]);
    return [[name, type]];
  }),
  ...recordedNames.map((name): [string, SeriesKind] => [name, "recorded"]),
  ["up", "up"],
  ...processSeries,
]);

/** Functions that take a counter's range vector. */
export const counterRangeFunctions: ReadonlySet<string> = new Set(["rate", "irate", "increase"]);
