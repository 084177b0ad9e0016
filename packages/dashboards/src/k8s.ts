/**
 * Kubernetes monitoring objects for the Prometheus Operator, generated from the same config as
 * the rules (src/config.ts): a PodMonitor per service, whose name makes the operator's default
 * `job` label (`<namespace>/<name>`) that kubernetesConfig's selectors expect, and a
 * PrometheusRule holding exactly the rule groups of alerts/, with those selectors.
 */
import { kubernetesConfig, kubernetesTarget as k8s } from "./config";
import { buildRuleFile } from "./rules";
import type { RuleGroup } from "./rules/model";

/** Labels the operator's Prometheus selects rules and monitors by (kube-prometheus: `release`-free defaults). */
const commonLabels = { "app.kubernetes.io/part-of": "tops-worker" } as const;

interface PodMonitor {
  readonly apiVersion: "monitoring.coreos.com/v1";
  readonly kind: "PodMonitor";
  readonly metadata: { readonly name: string; readonly namespace: string; readonly labels: Readonly<Record<string, string>> };
  readonly spec: {
    readonly selector: { readonly matchLabels: Readonly<Record<string, string>> };
    readonly podMetricsEndpoints: readonly {
      readonly port: string;
      readonly path: string;
      readonly interval: string;
      readonly scrapeTimeout: string;
      readonly relabelings: readonly Readonly<Record<string, unknown>>[];
    }[];
  };
}

interface PrometheusRule {
  readonly apiVersion: "monitoring.coreos.com/v1";
  readonly kind: "PrometheusRule";
  readonly metadata: { readonly name: string; readonly namespace: string; readonly labels: Readonly<Record<string, string>> };
  readonly spec: { readonly groups: readonly RuleGroup[] };
}

function podMonitor(name: string, app: string, port: string, path: string): PodMonitor {
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PodMonitor",
    metadata: { name, namespace: k8s.namespace, labels: { ...commonLabels, [k8s.appLabel]: app } },
    spec: {
      selector: { matchLabels: { [k8s.appLabel]: app } },
      podMetricsEndpoints: [{
        port, path, interval: "15s", scrapeTimeout: "10s",
        // `instance` = the pod's name (stable for a StatefulSet pod, unlike its IP), so alerts
        // and dashboards name the pod. The operator sets job, namespace, pod and container.
        relabelings: [{ sourceLabels: ["__meta_kubernetes_pod_name"], targetLabel: "instance", action: "replace" }],
      }],
    },
  };
}

export function podMonitors(): PodMonitor[] {
  return [
    podMonitor(k8s.workerMonitor, k8s.workerApp, k8s.workerPort, "/prometheus"),
    podMonitor(k8s.aggregatorMonitor, k8s.aggregatorApp, k8s.aggregatorPort, "/metrics"),
  ];
}

export function prometheusRule(): PrometheusRule {
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: { name: "tops-worker", namespace: k8s.namespace, labels: { ...commonLabels } },
    spec: { groups: buildRuleFile(kubernetesConfig).groups },
  };
}
