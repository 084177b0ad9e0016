/**
 * The generated dashboards import into the Grafana that deploy/compose.yaml pins, checked
 * statically (no Grafana here): its dashboard schema version and only fields its dashboard
 * model has, panel plugins it ships, and its alert list's options.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { grafanaSchemaVersion, repoRoot } from "../src";
import { generatedAggregatorDashboard, generatedDashboard } from "./support/grafana";
import * as grafana from "./support/grafana-11.3";

const compose = parse(await readFile(join(repoRoot, "deploy/compose.yaml"), "utf8")) as { services: Record<string, { image?: string }> };

const unknown = (value: object | undefined, known: ReadonlySet<string>): string[] => Object.keys(value ?? {}).filter((key) => !known.has(key));

describe("the Grafana model the checks describe", () => {
  it("is the version deploy/compose.yaml runs (review test/support/grafana-11.3.ts when the image changes)", () => {
    expect(compose.services.grafana?.image).toBe(grafana.pinnedGrafanaImage);
  });
});

describe.each([["tops-worker", generatedDashboard()], ["tops-aggregator", generatedAggregatorDashboard()]] as const)("dashboards/%s.json", (_name, board) => {
  it(`has schemaVersion ${grafana.schemaVersion}, the pinned Grafana's`, () => {
    expect(board.schemaVersion).toBe(grafana.schemaVersion);
    expect(grafanaSchemaVersion).toBe(grafana.schemaVersion);
  });

  it("uses only dashboard, link, annotation and variable fields that model has", () => {
    expect(unknown(board, grafana.dashboardFields)).toEqual([]);
    for (const link of board.links ?? []) expect(unknown(link, grafana.linkFields), link.title).toEqual([]);
    for (const annotation of board.annotations?.list ?? []) expect(unknown(annotation, grafana.annotationFields), annotation.name).toEqual([]);
    for (const variable of board.templating?.list ?? []) expect(unknown(variable, grafana.variableFields), variable.name).toEqual([]);
  });

  it("uses only panel plugins, panel fields, field-config fields and Prometheus query fields that model has", () => {
    for (const panel of board.panels ?? []) {
      const where = `${panel.type} "${panel.title}"`;
      expect(grafana.corePanelTypes.has(panel.type), where).toBe(true);
      expect(unknown(panel, panel.type === "row" ? grafana.rowFields : grafana.panelFields), where).toEqual([]);
      if (panel.type === "row") continue;
      const withConfig = panel as { fieldConfig?: { defaults?: { links?: object[] } }; targets?: object[]; options?: object };
      expect(unknown(withConfig.fieldConfig?.defaults, grafana.fieldDefaultsFields), where).toEqual([]);
      for (const link of withConfig.fieldConfig?.defaults?.links ?? []) expect(unknown(link, grafana.fieldLinkFields), where).toEqual([]);
      for (const target of withConfig.targets ?? []) expect(unknown(target, grafana.prometheusTargetFields), where).toEqual([]);
      if (panel.type === "alertlist") expect(unknown(withConfig.options, grafana.alertListOptions), where).toEqual([]);
    }
  });

  it("places every panel on the grid with an id", () => {
    for (const panel of board.panels ?? []) {
      expect(panel.gridPos, panel.title).toMatchObject({ x: expect.any(Number), y: expect.any(Number), w: expect.any(Number), h: expect.any(Number) });
      expect(panel.id, panel.title).toEqual(expect.any(Number));
    }
  });
});
