import type { MixinConfig } from "../config";
import { aggregatorAlerts, workerAlerts } from "./alerts";
import type { RuleFile, RuleGroup } from "./model";
import { recordingRules } from "./recording";

export * from "./model";
export { aggregatorAlerts, fleetBaselineWindow, receiptOutcome, workerAlerts } from "./alerts";
export { recorded, recordedNames, recordingRules } from "./recording";

/** The worker's groups: recording rules and alerts (alerts/tops-worker.rules.yml). */
export function workerRuleGroups(config: MixinConfig): RuleGroup[] {
  return [
    { name: "tops-worker.rules", rules: recordingRules(config) },
    { name: "tops-worker.alerts", rules: workerAlerts(config) },
  ];
}

/** The aggregator's group (alerts/tops-aggregator.rules.yml); none when it is not deployed. */
export function aggregatorRuleGroups(config: MixinConfig): RuleGroup[] {
  const rules = aggregatorAlerts(config);
  return rules.length === 0 ? [] : [{ name: "tops-aggregator.alerts", rules }];
}

/** Every rule for a config in one file (the PrometheusRule, tests). */
export function buildRuleFile(config: MixinConfig): RuleFile {
  return { groups: [...workerRuleGroups(config), ...aggregatorRuleGroups(config)] };
}
