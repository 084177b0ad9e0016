/**
 * The dashboard model of Grafana 11.3 (the version deploy/compose.yaml pins), as far as the
 * generated dashboards use it: the schema version its DashboardMigrator writes, the fields of
 * the dashboard, its links, annotations, variables, panels, field configs and Prometheus
 * targets, and the panel plugins built into it. Written from Grafana v11.3's dashboard schema
 * (kinds/dashboard, packages/grafana-schema) and its core panel plugins; reviewed whenever the
 * pinned image changes (test/grafana-model.test.ts fails until then).
 */
export const pinnedGrafanaImage = "grafana/grafana:11.3.0";

/** DASHBOARD_SCHEMA_VERSION of 11.3's DashboardMigrator (40, the `refresh` normalization, came with 11.4). */
export const schemaVersion = 39;

const set = (...names: string[]): ReadonlySet<string> => new Set(names);

export const dashboardFields = set(
  "id", "uid", "title", "description", "revision", "gnetId", "tags", "timezone", "editable", "graphTooltip", "time", "timepicker",
  "fiscalYearStartMonth", "liveNow", "weekStart", "refresh", "schemaVersion", "version", "panels", "templating", "annotations",
  "links", "snapshot",
);

export const linkFields = set("title", "type", "icon", "tooltip", "url", "tags", "asDropdown", "targetBlank", "includeVars", "keepTime");

export const annotationFields = set("name", "datasource", "enable", "hide", "iconColor", "filter", "target", "type", "builtIn");

export const variableFields = set(
  "id", "type", "name", "label", "hide", "skipUrlSync", "description", "query", "datasource", "current", "multi", "options", "refresh",
  "sort", "includeAll", "allValue", "regex", "definition",
);

export const panelFields = set(
  "type", "id", "pluginVersion", "tags", "targets", "title", "description", "transparent", "datasource", "gridPos", "links", "repeat",
  "repeatDirection", "maxPerRow", "maxDataPoints", "transformations", "interval", "timeFrom", "timeShift", "hideTimeOverride",
  "libraryPanel", "cacheTimeout", "queryCachingTTL", "options", "fieldConfig",
);

export const rowFields = set("type", "collapsed", "title", "datasource", "gridPos", "id", "panels", "repeat");

export const fieldDefaultsFields = set(
  "displayName", "displayNameFromDS", "description", "path", "writeable", "filterable", "unit", "decimals", "min", "max", "interval",
  "mappings", "thresholds", "color", "links", "noValue", "custom", "fieldMinMax",
);

export const fieldLinkFields = set("title", "url", "targetBlank", "onClick", "internal", "oneClick");

export const prometheusTargetFields = set(
  "refId", "hide", "key", "queryType", "datasource", "expr", "instant", "range", "exemplar", "editorMode", "format", "legendFormat",
  "intervalFactor", "interval", "scope", "adhocFilters",
);

/** Panel plugins built into Grafana 11.3. */
export const corePanelTypes = set(
  "row", "timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "alertlist", "text", "piechart", "barchart", "histogram",
  "logs", "news", "nodeGraph", "state-timeline", "status-history", "xychart", "candlestick", "canvas", "dashlist", "geomap",
  "annolist", "traces", "flamegraph", "trend", "datagrid",
);

/** Options of 11.3's unified alert list panel (public/app/plugins/panel/alertlist). */
export const alertListOptions = set(
  "maxItems", "sortOrder", "dashboardAlerts", "groupMode", "groupBy", "alertName", "showInstances", "folder", "datasource",
  "alertInstanceLabelFilter", "stateFilter", "viewMode",
);
