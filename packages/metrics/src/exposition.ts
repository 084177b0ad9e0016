/**
 * Text exposition of a prom-client registry, in the two formats scrapers ask for, and
 * the Accept / Accept-Encoding negotiation that picks between them.
 *
 * Prometheus 0.0.4 text is prom-client's own output. OpenMetrics 1.0 is rendered here:
 * prom-client's OpenMetrics mode renames counters in place (it strips `_total` from the
 * shared metric object), which would corrupt every later 0.0.4 scrape of the same
 * metrics. Rendering from the metrics' JSON leaves them untouched.
 */
import type { Registry } from "prom-client";
import type { NameFilter } from "./filter";

export type ExpositionFormat = "prometheus" | "openmetrics";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
export const OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";

export function contentTypeOf(format: ExpositionFormat): string {
  return format === "openmetrics" ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE;
}

interface MediaRange {
  readonly type: string;
  readonly q: number;
}

/** Parses a comma-separated header of `token;param=value;q=0.5` items (Accept, Accept-Encoding). */
function parseQList(header: string): MediaRange[] {
  const out: MediaRange[] = [];
  for (const item of header.split(",")) {
    const [rawType, ...params] = item.split(";");
    const type = (rawType ?? "").trim().toLowerCase();
    if (type === "") continue;
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split("=").map((x) => x.trim());
      if (k?.toLowerCase() === "q" && v !== undefined) {
        const n = Number(v);
        q = Number.isFinite(n) ? Math.min(Math.max(n, 0), 1) : 0;
      }
    }
    out.push({ type, q });
  }
  return out;
}

/** q of the most specific range matching `type/subtype`, or 0 when nothing matches. */
function qualityOf(ranges: readonly MediaRange[], mediaType: string): number {
  const major = mediaType.split("/")[0];
  const best = (t: string): number | null => {
    const qs = ranges.filter((r) => r.type === t).map((r) => r.q);
    return qs.length ? Math.max(...qs) : null;
  };
  return best(mediaType) ?? best(`${major}/*`) ?? best("*/*") ?? 0;
}

/**
 * OpenMetrics only when the client rates it strictly above text/plain (Prometheus sends
 * `application/openmetrics-text;version=1.0.0,...,text/plain;version=0.0.4;q=0.5,...`).
 * Anything else, including no Accept header or `* / *`, gets the 0.0.4 text format.
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (!accept) return "prometheus";
  const ranges = parseQList(accept);
  return qualityOf(ranges, "application/openmetrics-text") > qualityOf(ranges, "text/plain") ? "openmetrics" : "prometheus";
}

/** Whether Accept-Encoding allows gzip (explicitly, or through `*` without a gzip;q=0). */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (!acceptEncoding) return false;
  const ranges = parseQList(acceptEncoding);
  const explicit = ranges.filter((r) => r.type === "gzip" || r.type === "x-gzip");
  if (explicit.length > 0) return explicit.some((r) => r.q > 0);
  return ranges.some((r) => r.type === "*" && r.q > 0);
}

/**
 * The registry as exposition text. `filter` sees each metric's registered name
 * (counters with their `_total`), the same name in both formats.
 */
export async function renderRegistry(registry: Registry, format: ExpositionFormat, filter: NameFilter = () => true): Promise<string> {
  if (format === "openmetrics") return renderOpenMetrics(registry, filter);
  const names = registry.getMetricsAsArray().map((m) => m.name).filter(filter);
  const parts = await Promise.all(names.map((n) => registry.getSingleMetricAsString(n)));
  return parts.length ? `${fixNaN(parts.join("\n\n"))}\n` : "";
}

/**
 * prom-client writes NaN as "Nan" (e.g. nodejs_eventloop_lag_mean_seconds before the first
 * sample); the text format's spelling is "NaN". Only sample lines, only their value.
 */
function fixNaN(text: string): string {
  return text.replace(/^([^#\n][^\n]*) Nan$/gm, "$1 NaN");
}

type Family = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>[number];
type Sample = Family["values"][number];

async function renderOpenMetrics(registry: Registry, filter: NameFilter): Promise<string> {
  // getMetricsAsJSON() runs every collect() and merges the registry's default labels.
  const families = (await registry.getMetricsAsJSON()).filter((f) => filter(f.name));
  const lines: string[] = [];
  for (const f of families) {
    const type = String(f.type);
    const isCounter = type === "counter";
    const family = isCounter ? f.name.replace(/_total$/, "") : f.name;
    lines.push(`# TYPE ${family} ${openMetricsType(type)}`);
    lines.push(`# HELP ${family} ${escapeOm(f.help)}`);
    for (const v of f.values) {
      const name = isCounter ? `${family}_total` : sampleName(v, f.name);
      lines.push(`${name}${formatLabels(v.labels)} ${formatValue(v.value)}`);
    }
  }
  lines.push("# EOF");
  return `${lines.join("\n")}\n`;
}

function openMetricsType(type: string): string {
  return ["counter", "gauge", "histogram", "summary"].includes(type) ? type : "unknown";
}

/** Histogram and summary samples carry their own name (`_bucket`, `_sum`, `_count`). */
function sampleName(v: Sample, fallback: string): string {
  return "metricName" in v && typeof v.metricName === "string" ? v.metricName : fallback;
}

function escapeOm(s: string): string {
  return s.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
}

/**
 * OpenMetrics wants `le` and `quantile` as canonical numbers ("10.0", not "10") so a
 * bucket always has the same label value; they go last, as every client library does.
 */
function formatLabels(labels: Sample["labels"]): string {
  const parts: string[] = [];
  const tail: string[] = [];
  for (const [k, raw] of Object.entries(labels)) {
    if (raw === undefined) continue;
    if (k === "le" || k === "quantile") tail.push(`${k}="${typeof raw === "number" ? canonicalNumber(raw) : escapeOm(raw)}"`);
    else parts.push(`${k}="${escapeOm(String(raw))}"`);
  }
  const all = [...parts, ...tail];
  return all.length ? `{${all.join(",")}}` : "";
}

function canonicalNumber(n: number): string {
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return Number.isInteger(n) && Math.abs(n) < 1e15 ? `${n}.0` : String(n);
}

function formatValue(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}
