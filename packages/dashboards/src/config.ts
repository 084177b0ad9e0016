/**
 * Where the generated rules run: the one place that says which scrape jobs exist and how to
 * select them (monitoring-mixins style: a config object the generator reads, never a job
 * name typed in a rule). Each deployment target gets its own config and its own outputs.
 *
 * - compose (and `pnpm dev`, and the contract's scrape config): static jobs named in
 *   deploy/prometheus.yml; test/deploy.test.ts checks that they match.
 * - kubernetes: the Prometheus Operator's PodMonitors in deploy/k8s/monitors.yaml, whose
 *   default `job` label is `<namespace>/<PodMonitor name>`; the monitors are generated from
 *   the same config (src/k8s.ts), so their names and these selectors cannot drift apart.
 */

export interface MixinConfig {
  /** Names the output and appears in help texts. */
  readonly name: string;
  /** Label matchers that select the worker targets in every rule, e.g. `job="tops-worker"`. */
  readonly workerSelector: string;
  /** Label matchers that select the aggregator targets. */
  readonly aggregatorSelector: string;
  /** false: no aggregator rule is generated at all, so nothing alerts on a job that is not scraped. */
  readonly aggregatorDeployed: boolean;
  /**
   * Labels that a worker's alerts and its aggregator's alerts share when they belong to one
   * deployment: Alertmanager inhibitions from the aggregator to workers are scoped with them
   * (`equal:`). Kubernetes: the namespace. Compose has one deployment per Alertmanager, and a
   * label absent on both sides is equal, so the same `namespace` scoping holds there too.
   */
  readonly deploymentLabels: readonly string[];
  /** Runbook file (URL); every alert's runbook_url is this plus `#<alert name, lower case>`. */
  readonly runbookUrl: string;
}

/** Scrape job names of deploy/prometheus.yml (compose, `pnpm dev`). */
export const scrapeJobs = {
  worker: "tops-worker",
  aggregator: "tops-aggregator",
} as const;

/** Kubernetes objects the monitors and the rules are generated for (deploy/k8s). */
export const kubernetesTarget = {
  namespace: "tops",
  /** PodMonitor names; the operator's default job label is `<namespace>/<name>`. */
  workerMonitor: "tops-worker",
  aggregatorMonitor: "tops-aggregator",
  /** Pod label both the StatefulSets and the monitors select on. */
  appLabel: "app.kubernetes.io/name",
  workerApp: "tops-worker",
  aggregatorApp: "tops-aggregator",
  workerPort: "metrics",
  aggregatorPort: "http",
} as const;

/** The repository's runbook, as a URL an on-call person can open from a notification. */
export const runbookUrl = "https://github.com/tops-worker/tops-worker/blob/main/docs/runbooks.md";

export const composeConfig: MixinConfig = {
  name: "compose",
  workerSelector: `job="${scrapeJobs.worker}"`,
  aggregatorSelector: `job="${scrapeJobs.aggregator}"`,
  aggregatorDeployed: true,
  deploymentLabels: ["namespace"],
  runbookUrl,
};

const k8s = kubernetesTarget;
export const kubernetesConfig: MixinConfig = {
  name: "kubernetes",
  workerSelector: `job="${k8s.namespace}/${k8s.workerMonitor}", namespace="${k8s.namespace}"`,
  aggregatorSelector: `job="${k8s.namespace}/${k8s.aggregatorMonitor}", namespace="${k8s.namespace}"`,
  aggregatorDeployed: true,
  deploymentLabels: ["namespace"],
  runbookUrl,
};

/** Anchor of an alert's runbook section: its name in lower case (GitHub's heading slug). */
export const runbookAnchor = (alert: string): string => alert.toLowerCase();
