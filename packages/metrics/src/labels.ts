/**
 * Label names and the static (fleet) labels that go on every exported series.
 *
 * Static labels reach prom-client as default labels, so one bad name would make
 * every scrape invalid; they are therefore checked once, up front, with an error
 * that names the offending label.
 */
import { catalog } from "./catalog";

/** Prometheus label-name grammar. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The default label carrying the worker's device id. */
export const DEVICE_LABEL = "device_did";

/**
 * Names a static label may not take: histogram/summary internals, the device label
 * (set from the worker's identity, not from configuration), and any label a catalog
 * metric already has, since a default label would silently lose to it.
 */
const RESERVED_LABELS: ReadonlySet<string> = new Set([
  "le",
  "quantile",
  DEVICE_LABEL,
  ...Object.values(catalog).flatMap((d) => d.labels),
]);

export type StaticLabels = Readonly<Record<string, string>>;

/** Why `name` cannot be a static label, or null when it can. */
export function staticLabelNameProblem(name: string): string | null {
  if (!LABEL_NAME.test(name)) return `label name "${name}" must match [a-zA-Z_][a-zA-Z0-9_]*`;
  if (name.startsWith("__")) return `label name "${name}" is reserved (names starting with "__" belong to Prometheus)`;
  if (RESERVED_LABELS.has(name)) return `label name "${name}" is reserved (used by the exporter or a catalog metric)`;
  return null;
}

/** Throws unless every name is allowed and every value is non-empty. */
export function validateStaticLabels(labels: StaticLabels): void {
  for (const [name, value] of Object.entries(labels)) {
    const problem = staticLabelNameProblem(name);
    if (problem) throw new Error(problem);
    // Prometheus treats an empty label value as "no label", which would merge series.
    if (value.length === 0) throw new Error(`label "${name}" has an empty value`);
  }
}

/**
 * Parses "region=eu,rack=7" into labels. Values end at the next comma (no escaping);
 * the first "=" separates name from value. Throws with a message naming the bad entry.
 */
export function parseStaticLabels(text: string): StaticLabels {
  const labels: Record<string, string> = {};
  for (const rawEntry of text.split(",")) {
    const entry = rawEntry.trim();
    if (entry === "") continue;
    const eq = entry.indexOf("=");
    if (eq < 0) throw new Error(`entry "${entry}" is not name=value`);
    const name = entry.slice(0, eq).trim();
    const value = entry.slice(eq + 1).trim();
    if (Object.hasOwn(labels, name)) throw new Error(`label "${name}" is given twice`);
    labels[name] = value;
  }
  validateStaticLabels(labels);
  return labels;
}
