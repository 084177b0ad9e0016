/**
 * `promtool check rules` on the generated rule file and `promtool test rules` on the unit
 * tests in test/promtool/: each alert fires when it should and stays silent when it should not.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { buildRuleFile, isAlertingRule, outputPaths } from "../src";
import { promtoolPath } from "./support/binaries";

const run = promisify(execFile);
const testDir = join(import.meta.dirname, "promtool");
const testFiles = readdirSync(testDir).filter((name) => name.endsWith(".test.yml")).sort();

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
  readonly tests: readonly { readonly alert_rule_test?: readonly AlertTest[] }[];
}

describe("promtool", () => {
  it("check rules accepts the generated rule file", async () => {
    const { ok, output } = await promtool(["check", "rules", outputPaths.rules], testDir);
    expect(output).toContain("SUCCESS");
    expect(ok, output).toBe(true);
  });

  it.each(testFiles)("test rules %s passes", async (file) => {
    const { ok, output } = await promtool(["test", "rules", file], testDir);
    expect(ok, output).toBe(true);
  });

  it("tests every alert both firing and silent", () => {
    const cases = testFiles.flatMap((file) =>
      (parse(readFileSync(join(testDir, file), "utf8")) as PromtoolTestFile).tests.flatMap((group) => group.alert_rule_test ?? []),
    );
    const alertNames = buildRuleFile().groups.flatMap((group) => group.rules.filter(isAlertingRule).map((rule) => rule.alert));
    for (const name of alertNames) {
      const ofAlert = cases.filter((c) => c.alertname === name);
      expect(ofAlert.some((c) => (c.exp_alerts ?? []).length > 0), `${name} never tested firing`).toBe(true);
      expect(ofAlert.some((c) => (c.exp_alerts ?? []).length === 0), `${name} never tested silent`).toBe(true);
    }
  });
});
