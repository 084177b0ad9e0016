/**
 * A strict parser for the two text formats, used to check what the exporter serves
 * independently of prom-client. Throws on anything a Prometheus parser would reject
 * that matters here: samples before metadata, samples of the wrong family, bad label
 * syntax, unparsable values, duplicate families, histograms whose buckets are not
 * cumulative or whose +Inf bucket differs from _count, and (OpenMetrics) a missing # EOF.
 */

export interface ParsedSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface ParsedFamily {
  readonly name: string;
  type: string;
  help: string | null;
  readonly samples: ParsedSample[];
}

export type ParsedExposition = ReadonlyMap<string, ParsedFamily>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(s: string, line: string): number {
  if (s === "+Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  if (s === "NaN") return NaN;
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(s)) throw new Error(`bad value "${s}" in: ${line}`);
  return Number(s);
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, (_m, c: string) => (c === "n" ? "\n" : c));
}

/** Parses `name{a="b",c="d"} value` (no timestamps: the exporter never sends them). */
function parseSample(line: string): ParsedSample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
  if (!m) throw new Error(`bad sample line: ${line}`);
  const labels: Record<string, string> = {};
  const body = m[3] ?? "";
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
  let pos = 0;
  while (pos < body.length) {
    re.lastIndex = pos;
    const lm = re.exec(body);
    if (!lm) throw new Error(`bad labels in: ${line}`);
    const name = lm[1] ?? "";
    if (!LABEL_NAME.test(name) || Object.hasOwn(labels, name)) throw new Error(`bad or duplicate label "${name}" in: ${line}`);
    labels[name] = unescape(lm[2] ?? "");
    pos = re.lastIndex;
  }
  return { name: m[1] ?? "", labels, value: parseValue(m[4] ?? "", line) };
}

function allowedSampleNames(family: ParsedFamily, openMetrics: boolean): string[] {
  const n = family.name;
  switch (family.type) {
    case "counter": return openMetrics ? [`${n}_total`, `${n}_created`] : [n];
    case "histogram": return [`${n}_bucket`, `${n}_sum`, `${n}_count`, ...(openMetrics ? [`${n}_created`] : [])];
    case "summary": return [n, `${n}_sum`, `${n}_count`];
    default: return [n];
  }
}

function checkHistogram(f: ParsedFamily): void {
  const key = (l: Readonly<Record<string, string>>): string =>
    JSON.stringify(Object.entries(l).filter(([k]) => k !== "le").sort());
  const groups = new Map<string, { buckets: [number, number][]; count: number | null }>();
  for (const s of f.samples) {
    const g = groups.get(key(s.labels)) ?? { buckets: [], count: null };
    groups.set(key(s.labels), g);
    if (s.name.endsWith("_bucket")) {
      const le = s.labels.le;
      if (le === undefined) throw new Error(`${f.name}: bucket without le`);
      g.buckets.push([parseValue(le, le), s.value]);
    } else if (s.name.endsWith("_count")) g.count = s.value;
  }
  for (const g of groups.values()) {
    const last = g.buckets.at(-1);
    if (!last || last[0] !== Infinity) throw new Error(`${f.name}: missing +Inf bucket`);
    for (let i = 1; i < g.buckets.length; i++) {
      const [prevLe, prevV] = g.buckets[i - 1] ?? [0, 0];
      const [le, v] = g.buckets[i] ?? [0, 0];
      if (!(le > prevLe)) throw new Error(`${f.name}: buckets not in increasing le order`);
      if (v < prevV) throw new Error(`${f.name}: buckets not cumulative`);
    }
    if (g.count !== last[1]) throw new Error(`${f.name}: _count ${g.count} != +Inf bucket ${last[1]}`);
  }
}

export function parseExposition(text: string, format: "prometheus" | "openmetrics"): ParsedExposition {
  const om = format === "openmetrics";
  const families = new Map<string, ParsedFamily>();
  let current: ParsedFamily | null = null;
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  if (om && lines.at(-1) !== "# EOF") throw new Error("OpenMetrics output must end with # EOF");
  const family = (name: string, open: ParsedFamily | null): ParsedFamily => {
    if (!NAME.test(name)) throw new Error(`bad metric name ${name}`);
    if (open?.name === name) return open;
    if (families.has(name)) throw new Error(`family ${name} appears twice`);
    const created: ParsedFamily = { name, type: "untyped", help: null, samples: [] };
    families.set(name, created);
    return created;
  };
  for (const line of lines) {
    if (line === "# EOF") {
      if (!om) throw new Error("# EOF in Prometheus text format");
      continue;
    }
    if (line === "") {
      if (om) throw new Error("empty line in OpenMetrics output");
      continue;
    }
    const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
    if (meta) {
      const f = family(meta[2] ?? "", current);
      current = f;
      if (f.samples.length > 0) throw new Error(`metadata after samples for ${f.name}`);
      if (meta[1] === "HELP") f.help = unescape(meta[3] ?? "");
      else f.type = meta[3] ?? "";
      continue;
    }
    if (line.startsWith("#")) continue;
    const sample = parseSample(line);
    if (!current || !allowedSampleNames(current, om).includes(sample.name)) {
      throw new Error(`sample ${sample.name} does not belong to family ${current?.name ?? "(none)"}`);
    }
    current.samples.push(sample);
  }
  for (const f of families.values()) if (f.type === "histogram") checkHistogram(f);
  return families;
}

/** Value of the only sample called `name` (throws unless there is exactly one). */
export function sampleValue(parsed: ParsedExposition, name: string, labels: Readonly<Record<string, string>> = {}): number {
  const matches = [...parsed.values()].flatMap((f) => f.samples).filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (matches.length !== 1) throw new Error(`expected one sample ${name} ${JSON.stringify(labels)}, found ${matches.length}`);
  return matches[0]?.value ?? NaN;
}
