/**
 * Typed model of a Prometheus rule file (https://prometheus.io/docs/prometheus/latest/configuration/recording_rules/).
 * The Grafana SDK's alerting builders produce Grafana-managed rules, a different format, so
 * the Prometheus one is modelled here and emitted with `yaml` (see ../yaml.ts).
 */

/** A Prometheus duration as the rule file accepts it. */
export type Duration = `${number}${"s" | "m" | "h" | "d"}`;

export type Severity = "critical" | "warning" | "info";

export interface RecordingRule {
  /** `level:metric:operations`, e.g. `job_instance:tops_worker_total_attempts:rate5m`. */
  readonly record: string;
  readonly expr: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  /** How long the expression must hold before the alert fires; absent means at once. */
  readonly for?: Duration;
  readonly labels: { readonly severity: Severity } & Readonly<Record<string, string>>;
  readonly annotations: {
    /** Static one-liner (monitoring-mixins style): no templating, so it groups well in notifications. */
    readonly summary: string;
    /** Templated detail: which worker, what value, what to check. */
    readonly description: string;
    /** The alert's section in docs/runbooks.md: what it means, what to check, how to fix. */
    readonly runbook_url: string;
  };
}

export type Rule = RecordingRule | AlertingRule;

export interface RuleGroup {
  readonly name: string;
  /** Absent: Prometheus's global evaluation_interval applies (15s in deploy/, 1s in the e2e test). */
  readonly interval?: Duration;
  readonly rules: readonly Rule[];
}

export interface RuleFile {
  readonly groups: readonly RuleGroup[];
}

export function isAlertingRule(rule: Rule): rule is AlertingRule {
  return "alert" in rule;
}
