import { aggregatorAlerts, workerAlerts } from "./alerts";
import type { RuleFile } from "./model";
import { recordingRules } from "./recording";

export * from "./model";
export { aggregatorAlerts, receiptOutcome, workerAlerts } from "./alerts";
export { recorded, recordedNames, recordingRules } from "./recording";

/** The rule file written to alerts/tops-worker.rules.yml. */
export function buildRuleFile(): RuleFile {
  return {
    groups: [
      { name: "tops-worker.rules", rules: recordingRules },
      { name: "tops-worker.alerts", rules: workerAlerts },
      { name: "tops-aggregator.alerts", rules: aggregatorAlerts },
    ],
  };
}
