export {
  aggregatorDashboardTitle, aggregatorDashboardUid, allValue, buildAggregatorDashboard, buildDashboard, dashboardTitle, dashboardUid,
  grafanaSchemaVersion,
} from "./dashboard";
export { composeConfig, kubernetesConfig, kubernetesTarget, runbookAnchor, runbookUrl, scrapeJobs, type MixinConfig } from "./config";
export { podMonitors, prometheusRule } from "./k8s";
export { outputPaths, renderAggregatorDashboardJson, renderDashboardJson, renderOutputs, repoRoot, staleOutputs, writeOutputs } from "./outputs";
export { dashboardScope, perWorker, rulesScope, type QueryScope } from "./promql";
export { datasourceRef, datasourceVariable, provisionedDatasourceName, units } from "./panels/common";
export { fleetK } from "./panels/fleet";
export * from "./rules";
export { renderRuleFile, renderYaml, renderYamlStream } from "./yaml";
export { PublishError, publishDashboard, readPublishConfig, runPublish, type PublishConfig, type PublishResult } from "./grafana-publish";
