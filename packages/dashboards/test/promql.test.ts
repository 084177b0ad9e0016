/**
 * Every PromQL expression we ship (dashboard targets, variable queries, rules) parses and
 * names only series that exist: catalog metrics, recording rules, or `up`.
 */
import { describe, expect, it } from "vitest";
import { buildRuleFile, composeConfig, isAlertingRule, kubernetesConfig } from "../src";
import { generatedAggregatorDashboard, generatedDashboard, interpolate, panelQueries } from "./support/grafana";
import { counterRangeFunctions, knownSeries } from "./support/known-metrics";
import { parsePromql } from "./support/promql";

const durations = { rateInterval: "4s", range: "1h", interval: "1s" };
const dashboard = generatedDashboard();
const aggregatorDashboard = generatedAggregatorDashboard();

interface NamedExpr {
  readonly where: string;
  readonly expr: string;
  /** A label_values() selector: only its series' labels are read, never its values. */
  readonly labelLookup?: boolean;
}

const dashboardExprs: NamedExpr[] = [dashboard, aggregatorDashboard].flatMap((board) => panelQueries(board).map((q) => ({
  where: `${board.uid} panel "${q.panel}" target ${q.refId}`,
  expr: interpolate(q.expr, durations),
})));

/** `label_values(<selector>, <label>)`: the selector part is PromQL. */
const variableExprs: NamedExpr[] = [...(dashboard.templating?.list ?? []), ...(aggregatorDashboard.templating?.list ?? [])]
  .filter((variable) => variable.type === "query")
  .map((variable) => {
    const query = typeof variable.query === "string" ? variable.query : "";
    const selector = /^label_values\((.+),\s*\w+\)$/.exec(query)?.[1] ?? query;
    return { where: `variable $${variable.name}`, expr: interpolate(selector, durations), labelLookup: true };
  });

const ruleExprs: NamedExpr[] = [composeConfig, kubernetesConfig].flatMap((config) =>
  buildRuleFile(config).groups.flatMap((group) =>
    group.rules.map((rule) => ({ where: `${config.name} ${group.name}/${isAlertingRule(rule) ? rule.alert : rule.record}`, expr: rule.expr })),
  ),
);

const allExprs = [...dashboardExprs, ...variableExprs, ...ruleExprs];

describe("PromQL", () => {
  it("covers the dashboard, its variables and the rules", () => {
    expect(dashboardExprs.length).toBeGreaterThan(20);
    expect(variableExprs).toHaveLength(4);
    expect(ruleExprs.length).toBeGreaterThan(15);
  });

  it.each(allExprs)("$where parses", ({ expr }) => {
    expect(parsePromql(expr).errors).toEqual([]);
  });

  it.each(allExprs)("$where names only catalog metrics, recording rules or up", ({ expr }) => {
    const unknown = parsePromql(expr).selectors.map((s) => s.metric).filter((name) => !knownSeries.has(name));
    expect(unknown).toEqual([]);
  });

  it.each(allExprs.filter((e) => !e.labelLookup))("$where uses counters only inside rate()/increase() and gauges never", ({ expr }) => {
    const misuse = parsePromql(expr).selectors.flatMap((s) => {
      const kind = knownSeries.get(s.metric);
      const inCounterFunction = s.rangeFunction !== undefined && counterRangeFunctions.has(s.rangeFunction);
      if ((kind === "counter" || kind === "histogram-series") && !inCounterFunction) return [`${s.metric} outside rate/increase`];
      if ((kind === "gauge" || kind === "recorded" || kind === "up") && inCounterFunction) return [`${s.rangeFunction}() on gauge ${s.metric}`];
      return [];
    });
    expect(misuse).toEqual([]);
  });

  it.each(allExprs)("$where takes quantiles over rated buckets summed by le", ({ expr }) => {
    for (const call of parsePromql(expr).quantileCalls) {
      expect(call.groupingLabels, "histogram_quantile needs sum by (..., le) (rate(..._bucket[...]))").toContain("le");
    }
  });

  it.each(allExprs)("$where never divides by something that can be 0", ({ expr }) => {
    expect(parsePromql(expr).unguardedDivisors).toEqual([]);
  });
});

describe("the checker itself", () => {
  it("reports syntax errors", () => {
    expect(parsePromql("sum(rate(x[5m]) /").errors).not.toEqual([]);
    expect(parsePromql("rate(x[5m]").errors).not.toEqual([]);
  });

  it("finds metric names, matchers and the range function", () => {
    const [selector] = parsePromql('increase(tops_worker_total_attempts_total{job=~".*"}[1h])').selectors;
    expect(selector).toEqual({
      metric: "tops_worker_total_attempts_total",
      matchers: [{ label: "job", op: "=~", value: ".*" }],
      rangeFunction: "increase",
      range: "1h",
    });
  });

  it("flags the contract's wrong expressions", () => {
    // raw cumulative buckets: no sum by (le)
    expect(parsePromql("histogram_quantile(0.95, tops_worker_attempt_duration_ms_bucket)").quantileCalls).toEqual([{}]);
    // division by a rate that is 0 without traffic
    expect(parsePromql("rate(a_total[5m]) / rate(b_total[5m])").unguardedDivisors).toEqual(["rate(b_total[5m])"]);
    // increase() on a gauge
    const [gauge] = parsePromql("increase(tops_worker_consecutive_failures[5m])").selectors;
    expect(knownSeries.get(gauge?.metric ?? "")).toBe("gauge");
    expect(gauge?.rangeFunction).toBe("increase");
    // unknown metric
    expect(knownSeries.has(parsePromql("tops_worker_made_up").selectors[0]?.metric ?? "")).toBe(false);
  });
});
