/**
 * `promtool check rules` on every generated rule file and `promtool test rules` on the unit
 * tests in test/promtool/, for both label sets the rules meet:
 * - test/promtool/*.test.yml: the compose stack's (and the contract's scrape config), against
 *   alerts/*.rules.yml;
 * - test/promtool/kubernetes/*.test.yml: the Prometheus Operator's PodMonitor labels, against
 *   the spec of deploy/k8s/prometheus-rule.yaml (written out as a plain rule file first).
 */
import { execFile } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse, stringify } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { buildRuleFile, composeConfig, isAlertingRule, outputPaths, type RuleGroup } from "../src";
import { promtoolPath } from "./support/binaries";

const run = promisify(execFile);
const testDir = join(import.meta.dirname, "promtool");
const k8sTestDir = join(testDir, "kubernetes");
const testFilesIn = (dir: string): string[] => readdirSync(dir).filter((name) => name.endsWith(".test.yml")).sort();
const composeTests = testFilesIn(testDir);
const k8sTests = testFilesIn(k8sTestDir);
const tmp = await mkdtemp(join(tmpdir(), "dashboards-promtool-"));
afterAll(() => rm(tmp, { recursive: true, force: true }));

async function promtool(args: string[], cwd: string): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run(promtoolPath(), args, { cwd });
    return { ok: true, output: stdout + stderr };
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    return { ok: false, output: stdout + stderr };
  }
}

interface AlertTest {
  readonly alertname: string;
  readonly exp_alerts?: readonly unknown[];
}
interface PromtoolTestFile {
  readonly rule_files: readonly string[];
  readonly tests: readonly { readonly alert_rule_test?: readonly AlertTest[] }[];
}

/** deploy/k8s/prometheus-rule.yaml's groups as a plain rule file in `dir`, under the name the k8s tests load. */
async function writeKubernetesRuleFile(dir: string): Promise<string> {
  const manifest = parse(await readFile(outputPaths.k8sRules, "utf8")) as { kind: string; spec: { groups: RuleGroup[] } };
  expect(manifest.kind).toBe("PrometheusRule");
  const path = join(dir, "prometheus-rule.rules.yml");
  await writeFile(path, stringify({ groups: manifest.spec.groups }));
  return path;
}

describe("promtool", () => {
  it.each([outputPaths.workerRules, outputPaths.aggregatorRules])("check rules accepts %s", async (path) => {
    const { ok, output } = await promtool(["check", "rules", path], testDir);
    expect(output).toContain("SUCCESS");
    expect(ok, output).toBe(true);
  });

  it("check rules accepts the PrometheusRule's groups", async () => {
    const path = await writeKubernetesRuleFile(tmp);
    const { ok, output } = await promtool(["check", "rules", path], tmp);
    expect(ok, output).toBe(true);
  });

  it.each(composeTests)("test rules %s passes (compose label set)", async (file) => {
    const { ok, output } = await promtool(["test", "rules", file], testDir);
    expect(ok, output).toBe(true);
  });

  it.each(k8sTests)("test rules kubernetes/%s passes (PodMonitor label set)", async (file) => {
    const dir = await mkdtemp(join(tmp, "k8s-"));
    await writeKubernetesRuleFile(dir);
    await copyFile(join(k8sTestDir, file), join(dir, file));
    const { ok, output } = await promtool(["test", "rules", file], dir);
    expect(ok, output).toBe(true);
  });

  it("has unit tests for both label sets, each loading the rules it is meant for", () => {
    expect(composeTests.length).toBeGreaterThan(0);
    expect(k8sTests.length).toBeGreaterThan(0);
    for (const file of k8sTests) {
      expect((parse(readFileSync(join(k8sTestDir, file), "utf8")) as PromtoolTestFile).rule_files).toEqual(["prometheus-rule.rules.yml"]);
    }
  });

  it("tests every alert both firing and silent", () => {
    const cases = composeTests.flatMap((file) =>
      (parse(readFileSync(join(testDir, file), "utf8")) as PromtoolTestFile).tests.flatMap((group) => group.alert_rule_test ?? []),
    );
    const alertNames = buildRuleFile(composeConfig).groups.flatMap((group) => group.rules.filter(isAlertingRule).map((rule) => rule.alert));
    for (const name of alertNames) {
      const ofAlert = cases.filter((c) => c.alertname === name);
      expect(ofAlert.some((c) => (c.exp_alerts ?? []).length > 0), `${name} never tested firing`).toBe(true);
      expect(ofAlert.some((c) => (c.exp_alerts ?? []).length === 0), `${name} never tested silent`).toBe(true);
    }
  });
});
