/**
 * Places rows and panels on Grafana's 24-column grid, left to right, wrapping when a row is
 * full, and numbers them. Explicit ids and positions keep the generated JSON stable.
 */
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import type { SizedPanel } from "./panels/common";

export const gridWidth = 24;

export interface PanelGroup {
  readonly title: string;
  readonly panels: readonly SizedPanel[];
}

export function layOut(builder: dashboard.DashboardBuilder, groups: readonly PanelGroup[]): dashboard.DashboardBuilder {
  let nextId = 1;
  let y = 0;
  for (const group of groups) {
    builder.withRow(new dashboard.RowBuilder(group.title).id(nextId++).collapsed(false).gridPos({ x: 0, y, w: gridWidth, h: 1 }));
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const { builder: panel, width, height } of group.panels) {
      if (width > gridWidth) throw new Error(`panel wider than the grid (${width} > ${gridWidth})`);
      if (x + width > gridWidth) {
        y += rowHeight;
        x = 0;
        rowHeight = 0;
      }
      panel.id(nextId++);
      panel.gridPos({ x, y, w: width, h: height });
      builder.withPanel(panel);
      x += width;
      rowHeight = Math.max(rowHeight, height);
    }
    y += rowHeight;
  }
  return builder;
}
