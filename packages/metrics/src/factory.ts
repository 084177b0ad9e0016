/**
 * Catalog descriptor → prom-client metric. Name, help, labels and buckets come from the
 * descriptor only, so a metric can never be registered with a hand-typed name.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { MetricDescriptor } from "./catalog";

type Collect<M> = (this: M) => void | Promise<void>;

function expectType(d: MetricDescriptor, type: MetricDescriptor["type"]): void {
  if (d.type !== type) throw new Error(`${d.name} is a ${d.type} in the catalog, not a ${type}`);
}

export function counterFrom<L extends string>(
  d: MetricDescriptor<string, L>, registry: Registry, collect?: Collect<Counter<L>>,
): Counter<L> {
  expectType(d, "counter");
  return new Counter<L>({ name: d.name, help: d.help, labelNames: d.labels, registers: [registry], ...(collect ? { collect } : {}) });
}

export function gaugeFrom<L extends string>(
  d: MetricDescriptor<string, L>, registry: Registry, collect?: Collect<Gauge<L>>,
): Gauge<L> {
  expectType(d, "gauge");
  return new Gauge<L>({ name: d.name, help: d.help, labelNames: d.labels, registers: [registry], ...(collect ? { collect } : {}) });
}

export function histogramFrom<L extends string>(d: MetricDescriptor<string, L>, registry: Registry): Histogram<L> {
  expectType(d, "histogram");
  if (!d.buckets) throw new Error(`${d.name} has no buckets in the catalog`);
  return new Histogram<L>({ name: d.name, help: d.help, labelNames: d.labels, buckets: [...d.buckets], registers: [registry] });
}

/**
 * Sets a counter that mirrors a value kept elsewhere. prom-client counters have no
 * set(); reset-then-inc inside a synchronous collect() is atomic with respect to the
 * scrape reading it, because nothing else runs between the two calls.
 */
export function mirrorCounter(counter: Counter, value: number): void {
  counter.reset();
  counter.inc(value);
}
