/** The rule files keep the contract's alerts, follow the monitoring-mixins conventions and obey their config. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import {
  aggregatorRuleGroups, buildRuleFile, composeConfig, isAlertingRule, kubernetesConfig, renderRuleFile, repoRoot, runbookAnchor,
  workerRuleGroups, type AlertingRule, type MixinConfig, type RecordingRule,
} from "../src";
import { parsePromql } from "./support/promql";

const file = buildRuleFile(composeConfig);
const rules = file.groups.flatMap((group) => group.rules);
const alerts = rules.filter(isAlertingRule);
const records = rules.filter((rule): rule is RecordingRule => !isAlertingRule(rule));
const alert = (name: string): AlertingRule | undefined => alerts.find((a) => a.alert === name);

describe("alert rules", () => {
  it.each([
    // name, severity, for, threshold as it appears in the expression
    ["HighErrorRate", "warning", "2m", "> 0.05"],
    ["WorkerDown", "critical", "1m", "== 0"],
    ["HighResponseTime", "warning", "5m", "> 1000"],
    ["ConsecutiveFailures", "critical", "1m", "> 10"],
    ["LowSuccessRate", "warning", "5m", "< 0.9"],
  ] as const)("%s keeps the contract's severity %s, for %s and threshold %s", (name, severity, duration, threshold) => {
    expect(alert(name)).toMatchObject({ labels: { severity }, for: duration });
    expect(alert(name)?.expr).toContain(threshold);
  });

  it("NoSuccessfulAttempts is critical, looks at the last 2 minutes and holds for a minute", () => {
    expect(alert("NoSuccessfulAttempts")).toMatchObject({ labels: { severity: "critical" }, for: "1m" });
    expect(alert("NoSuccessfulAttempts")?.expr).toContain("[2m]");
  });

  it("ReceiptsDropped and SpooledReceiptsRefused hold for a minute before firing", () => {
    expect(alert("ReceiptsDropped")?.for).toBe("1m");
    expect(alert("SpooledReceiptsRefused")?.for).toBe("1m");
  });

  it("TopsBelowFleetUsual needs a baseline as old as its window", () => {
    expect(alert("TopsBelowFleetUsual")?.expr).toMatch(/avg_over_time\([^)]*\[1d\]\)[\s\S]*offset 1d/);
  });

  it("WorkerDown looks at the scrape (up) and at a vanished target (absent), not at uptime", () => {
    const expr = alert("WorkerDown")?.expr ?? "";
    expect(expr).toMatch(/up\{job="tops-worker"\} == 0/);
    expect(expr).toMatch(/absent\(up\{job="tops-worker"\}\)/);
    expect(expr).not.toContain("uptime");
  });

  it("covers the fleet operator's next needs", () => {
    expect(alerts.map((a) => a.alert)).toEqual(expect.arrayContaining([
      "AggregatorRejectingReceipts", "ReceiptsSpoolNotDraining", "ReceiptsDropped", "SpooledReceiptsRefused", "CircuitBreakerOpen",
      "TopsBelowFleetUsual",
    ]));
  });

  it.each(alerts.map((a) => [a.alert, a] as const))("%s has a static summary and a templated description", (_name, rule) => {
    expect(rule.annotations.summary).not.toContain("{{");
    expect(rule.annotations.summary).toMatch(/\.$/);
    expect(rule.annotations.description).toContain("{{");
  });

  it("has unique alert names", () => {
    expect(new Set(alerts.map((a) => a.alert)).size).toBe(alerts.length);
  });
});

describe("runbooks", () => {
  const runbook = readFileSync(join(repoRoot, "docs", "runbooks.md"), "utf8");
  /** `## Heading` → its body, keyed by GitHub's anchor (lower case; these headings are single words). */
  const sections = new Map(runbook.split(/^## /m).slice(1).map((part) => {
    const [heading = "", ...body] = part.split("\n");
    return [heading.trim().toLowerCase(), body.join("\n")] as const;
  }));

  it.each(alerts.map((a) => [a.alert, a] as const))("%s links its own runbook section, which says what it means, what to check and how to fix it", (name, rule) => {
    expect(rule.annotations.runbook_url).toBe(`${composeConfig.runbookUrl}#${runbookAnchor(name)}`);
    expect(composeConfig.runbookUrl).toMatch(/\/docs\/runbooks\.md$/);
    const body = sections.get(runbookAnchor(name));
    expect(body, `docs/runbooks.md has no "## ${name}" section`).toBeDefined();
    for (const part of ["**Meaning.**", "**Check.**", "**Fix.**"]) expect(body, `${name}: ${part}`).toContain(part);
  });

  it("has no section for an alert that does not exist", () => {
    expect([...sections.keys()].filter((anchor) => !alerts.some((a) => runbookAnchor(a.alert) === anchor))).toEqual([]);
  });
});

describe("mixin config", () => {
  const noAggregator: MixinConfig = { ...composeConfig, aggregatorDeployed: false };

  it("generates no aggregator rule where no aggregator is deployed", () => {
    expect(aggregatorRuleGroups(noAggregator)).toEqual([]);
    const names = buildRuleFile(noAggregator).groups.flatMap((g) => g.rules.filter(isAlertingRule).map((r) => r.alert));
    expect(names.filter((name) => name.startsWith("Aggregator"))).toEqual([]);
  });

  it("keeps the worker's rule file free of the aggregator's job, so a worker-only Prometheus can load it", () => {
    const text = renderRuleFile({ groups: workerRuleGroups(composeConfig) });
    expect(text).not.toContain("tops-aggregator");
    expect(text).not.toContain("tops_aggregator_");
  });

  it.each([composeConfig, kubernetesConfig].map((c) => [c.name, c] as const))("every selector of the %s rules carries that config's job selector", (_name, config) => {
    const jobOf = (selector: string): string => /job="([^"]+)"/.exec(selector)?.[1] ?? "";
    const allowed = new Set([jobOf(config.workerSelector), jobOf(config.aggregatorSelector)]);
    for (const group of buildRuleFile(config).groups) {
      for (const rule of group.rules) {
        for (const selector of parsePromql(rule.expr).selectors) {
          const job = selector.matchers.find((m) => m.label === "job" && m.op === "=");
          expect(job && allowed.has(job.value), `${group.name}: ${selector.metric} in ${rule.expr}`).toBe(true);
        }
      }
    }
  });

  it("scopes Kubernetes rules to the PodMonitors' job label, <namespace>/<name>", () => {
    expect(kubernetesConfig.workerSelector).toContain('job="tops/tops-worker"');
    expect(kubernetesConfig.aggregatorSelector).toContain('job="tops/tops-aggregator"');
  });
});

describe("recording rules", () => {
  it.each(records.map((r) => [r.record] as const))("%s is named level:metric:operations", (name) => {
    expect(name).toMatch(/^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/);
  });

  it("are defined before use: a record only reads records above it", () => {
    const seen = new Set<string>();
    for (const rule of records) {
      for (const other of records) {
        if (rule.expr.includes(other.record)) expect(seen.has(other.record), `${rule.record} reads ${other.record}`).toBe(true);
      }
      seen.add(rule.record);
    }
  });
});

describe("rule file YAML", () => {
  it("round-trips to the model", () => {
    expect(parse(renderRuleFile(file))).toEqual(JSON.parse(JSON.stringify(file)));
  });

  it("starts with a do-not-edit header", () => {
    expect(renderRuleFile(file)).toMatch(/^# Generated by packages\/dashboards/);
  });
});
