/**
 * Dashboard checks in the spirit of grafana/dashboard-linter: datasource variable on panels
 * and targets, job/instance matchers, $__rate_interval, units, titles, descriptions, unique
 * ids; plus the contract's panel list and a sane grid.
 */
import { describe, expect, it } from "vitest";
import {
  aggregatorDashboardUid, allValue, dashboardUid, datasourceRef, datasourceVariable, fleetK, provisionedDatasourceName, recordedNames,
  runbookUrl, units,
} from "../src";
import { generatedAggregatorDashboard, generatedDashboard, interpolate, promTargets, queryPanels, type Panel } from "./support/grafana";
import { parsePromql } from "./support/promql";

const dashboard = generatedDashboard();
const aggregatorDashboard = generatedAggregatorDashboard();
const panels = queryPanels(dashboard);
const aggregatorPanels = queryPanels(aggregatorDashboard);
const variables = dashboard.templating?.list ?? [];
const byTitle = (list: readonly Panel[], title: string): Panel | undefined => list.find((p) => p.title === title);

// Sentinel windows, so a parsed range tells which Grafana variable it came from.
const sentinel = { rateInterval: "1111s", range: "2222s", interval: "3333s" };

/** Grafana's built-in unit ids used here, plus custom `suffix:` units. */
const knownUnits = new Set<string>(Object.values(units));
const isValidUnit = (unit: string | undefined): boolean => unit !== undefined && (knownUnits.has(unit) || /^suffix:\S/.test(unit));

describe("dashboard", () => {
  it("has a stable uid and title", () => {
    expect(dashboard.uid).toBe(dashboardUid);
    expect(dashboard.title).toBeTruthy();
  });

  it("has a Prometheus datasource variable", () => {
    const variable = variables.find((v) => v.name === datasourceVariable);
    expect(variable).toMatchObject({ type: "datasource", query: "prometheus" });
  });

  it.each(["job", "instance"])("has a multi-value, include-all $%s variable that reads from the datasource variable", (name) => {
    const variable = variables.find((v) => v.name === name);
    expect(variable).toMatchObject({ type: "query", multi: true, includeAll: true, datasource: datasourceRef });
  });

  it("lets All instances match later ones (.*), but All jobs only the listed worker jobs (so up never counts Prometheus or the aggregator)", () => {
    expect(variables.find((v) => v.name === "instance")?.allValue).toBe(allValue);
    expect(variables.find((v) => v.name === "job")?.allValue).toBeUndefined();
  });

  it("numbers every panel and row uniquely", () => {
    const ids = (dashboard.panels ?? []).map((panel) => panel.id);
    expect(ids.every((id) => typeof id === "number")).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("lays panels out on the 24-column grid without overlaps", () => {
    const all = dashboard.panels ?? [];
    expect(all.filter((panel) => !panel.gridPos).map((panel) => panel.title)).toEqual([]);
    const boxes = all.map((panel) => ({ title: panel.title, x: 0, y: 0, w: 0, h: 0, ...panel.gridPos }));
    for (const box of boxes) expect(box.x + box.w, box.title).toBeLessThanOrEqual(24);
    for (const [i, a] of boxes.entries()) {
      for (const b of boxes.slice(i + 1)) {
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `${a.title} overlaps ${b.title}`).toBe(false);
      }
    }
  });

  it("keeps the contract's four groups and their panels", () => {
    const rows = (dashboard.panels ?? []).filter((panel) => panel.type === "row").map((row) => row.title);
    expect(rows.filter((title) => ["Overview", "Performance", "Errors", "Health"].includes(title ?? ""))).toEqual(["Overview", "Performance", "Errors", "Health"]);
    const titles = panels.map((panel) => panel.title);
    expect(titles).toEqual(expect.arrayContaining([
      // Overview
      "Success rate (5m)", "Total attempts", "Uptime", "Current throughput",
      // Performance
      "Attempt duration distribution", "Attempt duration: mean, median, p95", "Throughput", "Achieved TOPS", "Network latency: median, p95",
      // Errors
      "Error rates by type", "Consecutive failures", "Error percentage",
      // Health
      "Worker status", "Last successful attempt", "Circuit breaker",
    ]));
    expect(panels.find((p) => p.title === "Success rate (5m)")?.type).toBe("gauge");
    expect(panels.find((p) => p.title === "Attempt duration distribution")?.type).toBe("heatmap");
  });
});

describe("fleet view", () => {
  it("comes first: workers up / expected, fleet TOPS and success ratio, top/bottom-k workers, alerts", () => {
    const rows = (dashboard.panels ?? []).filter((panel) => panel.type === "row").map((row) => row.title);
    expect(rows[0]).toBe("Fleet");
    expect(promTargets(byTitle(panels, "Workers up / expected")!).map((t) => t.expr)).toEqual([
      'sum(up{job=~"$job", instance=~"$instance"})', 'count(up{job=~"$job", instance=~"$instance"})',
    ]);
    expect(byTitle(panels, "Fleet TOPS")).toBeDefined();
    expect(byTitle(panels, "Fleet success ratio (5m)")).toBeDefined();
  });

  it("ranks workers with topk/bottomk in bar gauges, each bar linking to that worker's view", () => {
    const ranked = panels.filter((p) => p.type === "bargauge");
    expect(ranked.length).toBeGreaterThanOrEqual(3);
    for (const panel of ranked) {
      expect(promTargets(panel)[0]?.expr).toMatch(new RegExp(`^(top|bottom)k\\(${fleetK}, `));
      expect(promTargets(panel)[0]?.instant).toBe(true);
      const links = (panel.fieldConfig?.defaults?.links ?? []) as unknown as { title: string; url: string }[];
      expect(links).toHaveLength(1);
      const url = new URL(links[0]?.url ?? "", "http://grafana.invalid");
      expect(url.pathname).toBe(`/d/${dashboardUid}/${dashboardUid}`);
      expect(url.searchParams.get("var-instance")).toBe("${__field.labels.instance}");
      expect(url.searchParams.get("var-job")).toBe("${__field.labels.job}");
      expect(links[0]?.url).toContain("${__url_time_range}");
    }
  });
});

describe.each([["tops-worker", dashboard], ["tops-aggregator", aggregatorDashboard]] as const)("dashboard %s: alerts and runbooks", (_name, board) => {
  it("has an alert list of the provisioned Prometheus's firing and pending alerts", () => {
    const list = (board.panels ?? []).find((p): p is Panel => p.type === "alertlist");
    expect(list?.options).toMatchObject({ datasource: provisionedDatasourceName, stateFilter: { firing: true, pending: true } });
    expect(list?.description).toContain(runbookUrl);
  });

  it("links the runbooks from the dashboard's header", () => {
    expect(board.links?.some((l) => l.url === runbookUrl)).toBe(true);
  });
});

describe("panels that read recording rules say so", () => {
  it.each([...panels, ...aggregatorPanels].map((p) => [p.title ?? "", p] as const))("%s", (_title, panel) => {
    const used = recordedNames.filter((name) => promTargets(panel).some((t) => t.expr.includes(name)));
    for (const name of used) expect(panel.description, name).toContain(`recording rule`);
    for (const name of used) expect(panel.description).toContain(name);
  });
});

describe("aggregator dashboard", () => {
  it("has a stable uid and is generated like the worker's", () => {
    expect(aggregatorDashboard.uid).toBe(aggregatorDashboardUid);
    expect(aggregatorDashboard.schemaVersion).toBe(dashboard.schemaVersion);
  });

  it.each([
    ["Receipts by outcome and code", "tops_aggregator_receipts_total"],
    ["Verify latency", "tops_aggregator_verify_duration_ms_bucket"],
    ["Audits by result", "tops_aggregator_audits_total"],
    ["Stored receipts", "tops_aggregator_stored_receipts"],
    ["Verified ops per second", "tops_aggregator_verified_ops_total"],
    ["Quarantined keys", "tops_aggregator_quarantined_keys"],
  ])("shows %s (%s)", (title, metric) => {
    const panel = byTitle(aggregatorPanels, title);
    expect(panel, title).toBeDefined();
    expect(promTargets(panel!).some((t) => t.expr.includes(metric))).toBe(true);
  });
});

describe.each([...panels, ...aggregatorPanels].map((panel) => [panel.title ?? `panel ${panel.id}`, panel] as const))("panel %s", (_title, panel) => {
  it("has a title, a description and a unit", () => {
    expect(panel.title?.trim()).toBeTruthy();
    expect(panel.description?.trim()).toBeTruthy();
    expect(isValidUnit(panel.fieldConfig?.defaults?.unit), `unit ${panel.fieldConfig?.defaults?.unit}`).toBe(true);
  });

  it("queries the datasource variable, on the panel and on every target", () => {
    expect(panel.datasource).toEqual(datasourceRef);
    const targets = promTargets(panel);
    expect(targets.length).toBeGreaterThan(0);
    for (const target of targets) expect(target.datasource, target.refId).toEqual(datasourceRef);
  });

  it("gives every target a refId and a legend", () => {
    const targets = promTargets(panel);
    expect(new Set(targets.map((t) => t.refId)).size).toBe(targets.length);
    for (const target of targets) expect(target.legendFormat, target.refId).toBeTruthy();
  });

  it("filters every selector by the job and instance variables", () => {
    for (const target of promTargets(panel)) {
      for (const selector of parsePromql(interpolate(target.expr, sentinel)).selectors) {
        expect(selector.matchers, `${target.refId}: ${selector.metric}`).toEqual(expect.arrayContaining([
          { label: "job", op: "=~", value: allValue },
          { label: "instance", op: "=~", value: allValue },
        ]));
      }
    }
  });

  it("uses $__rate_interval in every rate (increase may also span $__range)", () => {
    for (const target of promTargets(panel)) {
      expect(target.expr).not.toMatch(/\[\d+[smhdw]\]/);
      for (const selector of parsePromql(interpolate(target.expr, sentinel)).selectors) {
        if (selector.range === undefined) continue;
        const allowed = selector.rangeFunction === "increase" ? [sentinel.rateInterval, sentinel.range] : [sentinel.rateInterval];
        expect(allowed, `${target.refId}: ${selector.rangeFunction}(${selector.metric}[${selector.range}])`).toContain(selector.range);
      }
    }
  });
});
