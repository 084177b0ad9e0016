export { allValue, buildDashboard, dashboardTitle, dashboardUid } from "./dashboard";
export { scrapeJobs } from "./jobs";
export { outputPaths, renderDashboardJson, renderOutputs, repoRoot, staleOutputs, writeOutputs } from "./outputs";
export { dashboardScope, rulesScope, type QueryScope } from "./promql";
export { datasourceRef, datasourceVariable, units } from "./panels/common";
export * from "./rules";
export { renderRuleFile } from "./yaml";
export { PublishError, publishDashboard, readPublishConfig, runPublish, type PublishConfig, type PublishResult } from "./grafana-publish";
