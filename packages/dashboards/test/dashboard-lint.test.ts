/**
 * Dashboard checks in the spirit of grafana/dashboard-linter: datasource variable on panels
 * and targets, job/instance matchers, $__rate_interval, units, titles, descriptions, unique
 * ids; plus the contract's panel list and a sane grid.
 */
import { describe, expect, it } from "vitest";
import { allValue, dashboardUid, datasourceRef, datasourceVariable, units } from "../src";
import { generatedDashboard, interpolate, promTargets, queryPanels } from "./support/grafana";
import { parsePromql } from "./support/promql";

const dashboard = generatedDashboard();
const panels = queryPanels(dashboard);
const variables = dashboard.templating?.list ?? [];

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
    expect(variable).toMatchObject({ type: "query", multi: true, includeAll: true, allValue, datasource: datasourceRef });
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
    expect(rows).toEqual(["Overview", "Performance", "Errors", "Health"]);
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

describe.each(panels.map((panel) => [panel.title ?? `panel ${panel.id}`, panel] as const))("panel %s", (_title, panel) => {
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
