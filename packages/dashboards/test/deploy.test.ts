/**
 * The hand-written deployment files agree with the generated ones: Prometheus scrapes the
 * jobs the rules name and loads the rule file, Grafana provisions the datasource and the
 * dashboards folder, Alertmanager routes to receivers that exist, CI publishes correctly.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { tmpdir } from "node:os";
import { promisify } from "node:util";
import { parse, stringify } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { buildRuleFile, isAlertingRule, outputPaths, repoRoot, scrapeJobs } from "../src";
import { promtoolPath } from "./support/binaries";

const run = promisify(execFile);
const readYaml = async <T>(path: string): Promise<T> => parse(await readFile(join(repoRoot, path), "utf8")) as T;
const tmp = await mkdtemp(join(tmpdir(), "dashboards-deploy-"));
afterAll(() => rm(tmp, { recursive: true, force: true }));

interface ScrapeConfig {
  readonly job_name: string;
  readonly metrics_path?: string;
  readonly static_configs: readonly { readonly targets: readonly string[] }[];
}
interface PrometheusConfig {
  readonly rule_files: readonly string[];
  readonly alerting: { readonly alertmanagers: readonly { readonly static_configs: readonly { readonly targets: readonly string[] }[] }[] };
  readonly scrape_configs: readonly ScrapeConfig[];
}

/** Shell-style `*` glob to a RegExp (all that Prometheus's rule_files patterns here use). */
const globToRegExp = (glob: string): RegExp => new RegExp(`^${glob.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]*")}$`);

const prometheusConfig = await readYaml<PrometheusConfig>("deploy/prometheus.yml");

describe("deploy/prometheus.yml", () => {
  const config = prometheusConfig;
  const job = (name: string): ScrapeConfig | undefined => config.scrape_configs.find((c) => c.job_name === name);

  it("scrapes the worker at worker:8082/prometheus under the job the rules name", () => {
    expect(job(scrapeJobs.worker)).toMatchObject({ metrics_path: "/prometheus", static_configs: [{ targets: ["worker:8082"] }] });
  });

  it("scrapes the aggregator at aggregator:8081/metrics under the job the rules name", () => {
    expect(job(scrapeJobs.aggregator)).toMatchObject({ metrics_path: "/metrics", static_configs: [{ targets: ["aggregator:8081"] }] });
  });

  it("loads the generated rule file and sends alerts to Alertmanager", () => {
    expect(config.rule_files.some((pattern) => globToRegExp(basename(pattern)).test(basename(outputPaths.rules)))).toBe(true);
    expect(config.alerting.alertmanagers[0]?.static_configs[0]?.targets).toEqual(["alertmanager:9093"]);
  });

  it("passes promtool check config, with the generated rules in place", async () => {
    // The container path of the rules does not exist here: point rule_files at the generated file.
    const local = join(tmp, "prometheus.yml");
    await writeFile(local, stringify({ ...config, rule_files: [outputPaths.rules] }));
    const { stdout } = await run(promtoolPath(), ["check", "config", local]);
    expect(stdout).toContain("SUCCESS");
  });
});

interface Datasources { readonly datasources: readonly Record<string, unknown>[] }
interface Providers { readonly providers: readonly { readonly type: string; readonly options: { readonly path: string } }[] }
const { datasources } = await readYaml<Datasources>("deploy/grafana/provisioning/datasources/prometheus.yml");
const { providers } = await readYaml<Providers>("deploy/grafana/provisioning/dashboards/tops-worker.yml");

describe("deploy/grafana/provisioning", () => {
  it("provisions Prometheus with a fixed uid as the default datasource", () => {
    expect(datasources).toEqual([expect.objectContaining({ uid: "prometheus", type: "prometheus", url: "http://prometheus:9090", isDefault: true })]);
  });

  it("loads dashboards from the folder the repo's dashboards/ is mounted at", () => {
    expect(providers).toEqual([expect.objectContaining({ type: "file", options: expect.objectContaining({ path: "/var/lib/grafana/dashboards/tops-worker" }) })]);
  });
});

interface Route { readonly receiver?: string; readonly routes?: readonly Route[] }
interface AlertmanagerConfig {
  readonly route: Route;
  readonly receivers: readonly { readonly name: string }[];
  readonly inhibit_rules: readonly { readonly source_matchers: readonly string[]; readonly target_matchers: readonly string[] }[];
}
const alertmanagerConfig = await readYaml<AlertmanagerConfig>("deploy/alertmanager.yml");

describe("deploy/alertmanager.yml", () => {
  const config = alertmanagerConfig;
  const alertNames = new Set(buildRuleFile().groups.flatMap((g) => g.rules.filter(isAlertingRule).map((r) => r.alert)));

  it("routes only to receivers that exist", () => {
    const receivers = new Set(config.receivers.map((r) => r.name));
    const routed = (route: Route): string[] => [...(route.receiver ? [route.receiver] : []), ...(route.routes ?? []).flatMap(routed)];
    for (const name of routed(config.route)) expect(receivers.has(name), name).toBe(true);
  });

  it("inhibits only alerts that the rules define", () => {
    const named = config.inhibit_rules.flatMap((rule) => [...rule.source_matchers, ...rule.target_matchers])
      .flatMap((matcher) => /^alertname=~?"(.*)"$/.exec(matcher)?.[1]?.split("|") ?? []);
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((name) => !alertNames.has(name))).toEqual([]);
  });

  const amtool = (() => {
    try {
      return execFileSync("sh", ["-c", "command -v amtool"], { encoding: "utf8" }).trim();
    } catch {
      return "";
    }
  })();
  // amtool (Debian package prometheus-alertmanager) is optional: the structural checks above always run.
  it.skipIf(!amtool)("passes amtool check-config", async () => {
    const { stdout } = await run(amtool, ["check-config", join(repoRoot, "deploy/alertmanager.yml")]);
    expect(stdout).toContain("SUCCESS");
  });
});

interface Step { readonly uses?: string; readonly run?: string; readonly with?: Record<string, unknown>; readonly env?: Record<string, string> }
interface Workflow {
  readonly on: { readonly push: { readonly branches: readonly string[] } };
  readonly jobs: Record<string, { readonly if?: string; readonly needs?: string; readonly steps: readonly Step[] }>;
}
const workflow = await readYaml<Workflow>(".github/workflows/publish-dashboards.yml");

describe(".github/workflows/publish-dashboards.yml", () => {  const publish = workflow.jobs.publish;
  const steps = publish?.steps ?? [];

  it("runs on pushes to main", () => {
    expect(workflow.on.push.branches).toEqual(["main"]);
  });

  it("sets up pnpm and Node 20 and installs from the lockfile", () => {
    expect(steps.some((s) => s.uses?.startsWith("pnpm/action-setup@"))).toBe(true);
    expect(steps.find((s) => s.uses?.startsWith("actions/setup-node@"))?.with).toMatchObject({ "node-version": 20 });
    expect(steps.some((s) => s.run === "pnpm install --frozen-lockfile")).toBe(true);
  });

  it("publishes only when the secrets are set, passing them through env", () => {
    expect(publish?.if).toContain("configured == 'true'");
    const step = steps.find((s) => s.run?.includes("publish:dashboards"));
    expect(step?.env).toMatchObject({ GRAFANA_URL: "${{ secrets.GRAFANA_URL }}", GRAFANA_TOKEN: "${{ secrets.GRAFANA_TOKEN }}" });
  });
});

interface ComposeService {
  readonly volumes?: readonly string[];
  readonly environment?: Readonly<Record<string, string>>;
  readonly command?: readonly string[];
}
interface Compose { readonly services: Readonly<Record<string, ComposeService>> }
// Compose resolves YAML 1.1 merge keys (`<<: *worker-env`); so must we.
const compose = parse(await readFile(join(repoRoot, "deploy/compose.yaml"), "utf8"), { merge: true }) as Compose;

/** Container path where compose mounts the repo folder `hostPath` (relative to deploy/), or undefined. */
const mountOf = (service: string, hostPath: string): string | undefined =>
  compose.services[service]?.volumes?.map((v) => v.split(":")).find(([host]) => host === hostPath)?.[1];

describe("deploy/compose.yaml", () => {
  it("runs the whole stack", () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(["aggregator", "worker", "prometheus", "alertmanager", "grafana"]));
  });

  it("mounts the generated rules where deploy/prometheus.yml loads them", () => {
    const rulesDir = mountOf("prometheus", "../alerts");
    expect(rulesDir).toBeDefined();
    const loaded = prometheusConfig.rule_files.some((pattern) => pattern.startsWith(`${rulesDir}/`) && globToRegExp(basename(pattern)).test(basename(outputPaths.rules)));
    expect(loaded).toBe(true);
    expect(mountOf("prometheus", "./prometheus.yml")).toBe("/etc/prometheus/prometheus.yml");
  });

  it("mounts the generated dashboards where the Grafana provider reads them, and the provisioning folder", () => {
    expect(mountOf("grafana", "../dashboards")).toBe(providers[0]?.options.path);
    expect(mountOf("grafana", "./grafana/provisioning")).toBe("/etc/grafana/provisioning");
  });

  it("points the worker at the aggregator service and serves metrics on the scraped port", () => {
    const env = compose.services.worker?.environment ?? {};
    expect(env.AGGREGATOR_URL).toBe("http://aggregator:8081/verify");
    expect(env.METRICS_PORT).toBe("8082");
    expect(compose.services.aggregator?.command).toEqual(["node", "--import", "tsx", "packages/aggregator/src/cli.ts"]);
  });
});
