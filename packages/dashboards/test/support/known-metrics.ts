/** Series names an expression may use: catalog metrics (histograms with their _bucket/_sum/_count), recording rules, `up`. */
import { catalog, type MetricKey } from "@tops/metrics";
import { recordedNames } from "../../src";

export type SeriesKind = "counter" | "gauge" | "histogram-series" | "recorded" | "up";

export const knownSeries: ReadonlyMap<string, SeriesKind> = new Map<string, SeriesKind>([
  ...(Object.keys(catalog) as MetricKey[]).flatMap((key): [string, SeriesKind][] => {
    const { name, type } = catalog[key];
    if (type === "histogram") return ["bucket", "sum", "count"].map((suffix) => [`${name}_${suffix}`, "histogram-series"]);
    return [[name, type]];
  }),
  ...recordedNames.map((name): [string, SeriesKind] => [name, "recorded"]),
  ["up", "up"],
]);

/** Functions that take a counter's range vector. */
export const counterRangeFunctions: ReadonlySet<string> = new Set(["rate", "irate", "increase"]);
