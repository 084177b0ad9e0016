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
import { parse, parseAllDocuments, stringify } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { readdirSync } from "node:fs";
import {
  buildRuleFile, composeConfig, isAlertingRule, kubernetesConfig, kubernetesTarget, outputPaths, provisionedDatasourceName, repoRoot, scrapeJobs,
} from "../src";
import { promtoolPath } from "./support/binaries";
import { execForm, parseDockerfile, type Stage } from "./support/dockerfile";

const run = promisify(execFile);
const readYaml = async <T>(path: string): Promise<T> => parse(await readFile(join(repoRoot, path), "utf8")) as T;
const tmp = await mkdtemp(join(tmpdir(), "dashboards-deploy-"));
afterAll(() => rm(tmp, { recursive: true, force: true }));

interface ScrapeConfig {
  readonly job_name: string;
  readonly metrics_path?: string;
  readonly static_configs: readonly { readonly targets: readonly string[] }[];
  readonly dns_sd_configs?: readonly { readonly names: readonly string[]; readonly type: string; readonly port: number }[];
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

  it("loads both generated rule files and sends alerts to Alertmanager", () => {
    for (const file of [outputPaths.workerRules, outputPaths.aggregatorRules]) {
      expect(config.rule_files.some((pattern) => globToRegExp(basename(pattern)).test(basename(file))), file).toBe(true);
    }
    expect(config.alerting.alertmanagers[0]?.static_configs[0]?.targets).toEqual(["alertmanager:9093"]);
  });

  it("passes promtool check config, with the generated rules in place", async () => {
    // The container path of the rules does not exist here: point rule_files at the generated file.
    const local = join(tmp, "prometheus.yml");
    await writeFile(local, stringify({ ...config, rule_files: [outputPaths.workerRules, outputPaths.aggregatorRules] }));
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
    // The dashboards' alert lists select the Prometheus rules by this datasource name.
    expect(datasources[0]?.name).toBe(provisionedDatasourceName);
    expect(datasources[0]?.jsonData).toMatchObject({ manageAlerts: true });
  });

  it("loads dashboards from the folder the repo's dashboards/ is mounted at", () => {
    expect(providers).toEqual([expect.objectContaining({ type: "file", options: expect.objectContaining({ path: "/var/lib/grafana/dashboards/tops-worker" }) })]);
  });
});

interface Route { readonly receiver?: string; readonly routes?: readonly Route[] }
interface Receiver { readonly name: string; readonly webhook_configs?: readonly { readonly url: string }[] }
interface AlertmanagerConfig {
  readonly route: Route;
  readonly receivers: readonly Receiver[];
  readonly inhibit_rules: readonly { readonly source_matchers: readonly string[]; readonly target_matchers: readonly string[]; readonly equal?: readonly string[] }[];
}
const alertmanagerConfig = await readYaml<AlertmanagerConfig>("deploy/alertmanager.yml");

describe("deploy/alertmanager.yml", () => {
  const config = alertmanagerConfig;
  const alertNames = new Set(buildRuleFile(composeConfig).groups.flatMap((g) => g.rules.filter(isAlertingRule).map((r) => r.alert)));

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

  it("gives every receiver an integration: the example webhook receiver of the compose stack", () => {
    const webhook = compose.services["alert-webhook"];
    expect(webhook?.command).toEqual(["node", "/receiver/receiver.mjs"]);
    expect(mountOf("alert-webhook", "./alert-webhook")).toBe("/receiver");
    for (const receiver of config.receivers) {
      const urls = (receiver.webhook_configs ?? []).map((w) => new URL(w.url));
      expect(urls.length, receiver.name).toBeGreaterThan(0);
      for (const url of urls) expect(`${url.host}${url.pathname}`).toBe(`alert-webhook:${webhook?.environment?.PORT}/alerts`);
    }
  });

  it("scopes every inhibition with equal:, and a worker's to that worker", () => {
    for (const rule of config.inhibit_rules) expect(rule.equal?.length, rule.source_matchers.join()).toBeGreaterThan(0);
    const fromWorkerDown = config.inhibit_rules.find((r) => r.source_matchers.includes('alertname="WorkerDown"'));
    expect(fromWorkerDown?.equal).toEqual(expect.arrayContaining(["job", "instance"]));
    const fromAggregator = config.inhibit_rules.find((r) => r.source_matchers.includes('alertname="AggregatorDown"'));
    expect(fromAggregator?.equal).toEqual([...composeConfig.deploymentLabels]);
    // A refused key fails attempts with the aggregator up: failure alerts must never hide behind AggregatorDown.
    expect(fromAggregator?.target_matchers.join()).not.toMatch(/HighErrorRate|NoSuccessfulAttempts|LowSuccessRate/);
  });

  const amtool = (() => {
    try {
      return execFileSync("sh", ["-c", "command -v amtool"], { encoding: "utf8" }).trim();
    } catch {
      return "";
    }
  })();
  // amtool (Debian package prometheus-alertmanager; CI installs it) may be absent on a dev machine:
  // the structural checks above always run.
  it.skipIf(!amtool)(`passes amtool check-config${amtool ? "" : " (SKIPPED: amtool not installed, apt-get install prometheus-alertmanager)"}`, async () => {
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
  readonly image?: string;
  readonly build?: { readonly target?: string; readonly dockerfile?: string };
  readonly profiles?: readonly string[];
  readonly volumes?: readonly string[];
  readonly environment?: Readonly<Record<string, string>>;
  readonly command?: readonly string[];
  readonly healthcheck?: unknown;
  readonly depends_on?: Readonly<Record<string, { readonly condition: string }>> | readonly string[];
}
interface Compose { readonly services: Readonly<Record<string, ComposeService>> }
// Compose resolves YAML 1.1 merge keys (`<<: *worker-env`); so must we.
const compose = parse(await readFile(join(repoRoot, "deploy/compose.yaml"), "utf8"), { merge: true }) as Compose;

/** Container path where compose mounts the repo folder `hostPath` (relative to deploy/), or undefined. */
const mountOf = (service: string, hostPath: string): string | undefined =>
  compose.services[service]?.volumes?.map((v) => v.split(":")).find(([host]) => host === hostPath)?.[1];


const dockerfile = parseDockerfile(await readFile(join(repoRoot, "deploy/Dockerfile"), "utf8"));
const stage = (name: string): Stage | undefined => dockerfile.stages.find((s) => s.name === name);
/** A stage's instructions, those of the stages it builds FROM included (base first). */
const lineage = (name: string): Stage[] => {
  const own = stage(name);
  if (!own) return [];
  return [...lineage(own.from), own];
};
const instructions = (name: string, keyword: string): string[] =>
  lineage(name).flatMap((s) => s.instructions.filter((i) => i.keyword === keyword).map((i) => i.args));
/** The release every manifest names: the worker package's version. */
const release = (JSON.parse(await readFile(join(repoRoot, "packages/worker/package.json"), "utf8")) as { version: string }).version;

describe("deploy/compose.yaml", () => {
  it("runs the whole stack", () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(["aggregator", "worker", "prometheus", "alertmanager", "alert-webhook", "grafana"]));
  });

  it("mounts the generated rules where deploy/prometheus.yml loads them", () => {
    const rulesDir = mountOf("prometheus", "../alerts");
    expect(rulesDir).toBeDefined();
    for (const file of [outputPaths.workerRules, outputPaths.aggregatorRules]) {
      const loaded = prometheusConfig.rule_files.some((pattern) => pattern.startsWith(`${rulesDir}/`) && globToRegExp(basename(pattern)).test(basename(file)));
      expect(loaded, file).toBe(true);
    }
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
  });

  it("builds each service from its Dockerfile stage and runs the image's compiled command", () => {
    expect(compose.services.aggregator?.build).toMatchObject({ dockerfile: "deploy/Dockerfile", target: "aggregator" });
    expect(compose.services.worker?.build).toMatchObject({ dockerfile: "deploy/Dockerfile", target: "worker" });
    for (const name of ["aggregator", "worker", "worker-gpu"]) {
      expect(compose.services[name]?.command, `${name} must use the image's CMD`).toBeUndefined();
    }
  });

  it("names a release on every image, never :latest", () => {
    for (const [name, service] of Object.entries(compose.services)) {
      const image = service.image ?? "";
      expect(image, name).toMatch(/:[^/]+$/);
      expect(image, name).not.toMatch(/:latest$/);
    }
    for (const name of ["aggregator", "worker", "worker-gpu"]) expect(compose.services[name]?.image).toContain(`:\${TOPS_VERSION:-${release}}`);
  });

  it("mounts the services' volumes on the paths the image creates for its user", () => {
    const created = instructions("aggregator", "RUN").join(" ");
    expect(created).toMatch(/mkdir -p \/data \/spool && chown node:node \/data \/spool/);
    expect(compose.services.aggregator?.volumes).toContain("aggregator-data:/data");
    expect(compose.services.aggregator?.environment?.DATA_DIR).toBe("/data");
    for (const name of ["worker", "worker-gpu"]) {
      expect(compose.services[name]?.volumes?.[0]).toMatch(/^[a-z-]+:\/spool$/);
      expect(compose.services[name]?.environment?.SPOOL_DIR).toBe("/spool");
    }
  });

  it("starts workers once the aggregator's image health check passes", () => {
    expect(instructions("aggregator", "HEALTHCHECK").join()).toContain("/healthz");
    for (const name of ["worker", "worker-gpu"]) {
      expect(compose.services[name]?.depends_on).toMatchObject({ aggregator: { condition: "service_healthy" } });
    }
  });

  it("scrapes the gpu profile's worker too, without a target while the profile is off", () => {
    const gpu = compose.services["worker-gpu"];
    expect(gpu?.profiles).toEqual(["gpu"]);
    const job = prometheusConfig.scrape_configs.find((c) => c.job_name === scrapeJobs.worker);
    expect(job?.dns_sd_configs).toEqual([expect.objectContaining({ names: ["worker-gpu"], type: "A", port: Number(gpu?.environment?.METRICS_PORT) })]);
  });
});

describe("deploy/Dockerfile", () => {
  it("builds in stages: a build stage, and one runtime stage per service", () => {
    expect(dockerfile.stages.map((s) => s.name)).toEqual(["build", "base", "aggregator", "worker"]);
    // The last stage is what `docker build` without --target gives: the worker.
    expect(dockerfile.stages.at(-1)?.name).toBe("worker");
  });

  it("pins its base image to a release", () => {
    const image = /NODE_IMAGE=(\S+)/.exec(dockerfile.args.map((a) => a.args).join(" "))?.[1] ?? "";
    expect(image).toMatch(/^node:\d+\.\d+\.\d+-bookworm-slim$/);
  });

  it("compiles the services in the build stage with the lockfile's dependencies", () => {
    const runs = stage("build")?.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args) ?? [];
    expect(runs).toEqual(expect.arrayContaining(["pnpm install --frozen-lockfile --ignore-scripts", "node deploy/bundle.mjs /out"]));
  });

  it.each(["aggregator", "worker"])("%s: only compiled output, no sources, no dev tools, no package manager", (name) => {
    const copies = lineage(name).flatMap((s) => s.instructions.filter((i) => i.keyword === "COPY").map((i) => i.args));
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) expect(copy).toMatch(/^--from=build\b.*\/out\//);
    const runs = instructions(name, "RUN").join("\n");
    expect(runs).not.toMatch(/pnpm|npm install|tsx|typescript|turbo/);
  });

  it.each([["aggregator", "aggregator/cli.mjs"], ["worker", "worker/cli.mjs"]])("%s: runs %s with node as the non-root user, with a HEALTHCHECK", (name, entry) => {
    expect(instructions(name, "USER")).toEqual(["node"]);
    const cmd = execForm(instructions(name, "CMD").at(-1) ?? "");
    expect(cmd?.[0]).toBe("node");
    expect(cmd?.at(-1)).toBe(entry);
    expect(cmd?.join(" ")).not.toContain("tsx");
    const health = instructions(name, "HEALTHCHECK").at(-1) ?? "";
    expect(health).toMatch(/--interval=\d+s/);
    expect(execForm(health)?.[0]).toBe("node");
  });
});

interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly spec?: Record<string, unknown>;
}
interface PodSpec {
  readonly securityContext?: { readonly runAsUser?: number; readonly fsGroup?: number };
  readonly containers: readonly { readonly image: string; readonly command?: readonly string[]; readonly ports?: readonly { readonly name: string }[] }[];
}
interface Workload extends K8sObject {
  readonly spec: { readonly template: { readonly metadata: { readonly labels: Record<string, string> }; readonly spec: PodSpec } };
}
interface PodMonitorObject extends K8sObject {
  readonly spec: { readonly selector: { readonly matchLabels: Record<string, string> }; readonly podMetricsEndpoints: readonly { readonly port: string; readonly path: string }[] };
}

const k8sDir = join(repoRoot, "deploy", "k8s");
const kustomization = await readYaml<{ resources: string[]; images: { name: string; newTag: string }[] }>("deploy/k8s/kustomization.yaml");
const k8sObjects: K8sObject[] = [];
for (const file of kustomization.resources) {
  for (const doc of parseAllDocuments(await readFile(join(k8sDir, file), "utf8"))) k8sObjects.push(doc.toJS() as K8sObject);
}
const workloads = k8sObjects.filter((o): o is Workload => o.kind === "StatefulSet" || o.kind === "Deployment");
const monitors = k8sObjects.filter((o): o is PodMonitorObject => o.kind === "PodMonitor");

describe("deploy/k8s", () => {
  it("kustomization lists every manifest in the folder", () => {
    const manifests = readdirSync(k8sDir).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml").sort();
    expect([...kustomization.resources].sort()).toEqual(manifests);
  });

  it("names a release on every image, never :latest, and the kustomization pins the same", () => {
    const images = workloads.flatMap((w) => w.spec.template.spec.containers.map((c) => c.image));
    expect(images.length).toBe(2);
    for (const image of images) expect(image).toMatch(new RegExp(`^ghcr\\.io/tops-worker/tops-(worker|aggregator):${release.replace(/\./g, "\\.")}$`));
    expect(kustomization.images.map((i) => i.newTag)).toEqual([release, release]);
  });

  it("runs the images' compiled commands as the image's user (uid 1000 = node), volumes owned by its group", () => {
    for (const w of workloads) {
      expect(w.spec.template.spec.securityContext).toMatchObject({ runAsUser: 1000, fsGroup: 1000 });
      for (const c of w.spec.template.spec.containers) expect(c.command, w.metadata.name).toBeUndefined();
    }
  });

  it("monitors both services with a PodMonitor that selects their pods and names a port they expose", () => {
    const apps = [kubernetesTarget.workerApp, kubernetesTarget.aggregatorApp];
    expect(monitors.map((m) => m.spec.selector.matchLabels[kubernetesTarget.appLabel]).sort()).toEqual([...apps].sort());
    for (const monitor of monitors) {
      const workload = workloads.find((w) => Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => w.spec.template.metadata.labels[k] === v));
      expect(workload, monitor.metadata.name).toBeDefined();
      expect(monitor.metadata.namespace).toBe(workload?.metadata.namespace);
      const ports = workload?.spec.template.spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.name)) ?? [];
      for (const endpoint of monitor.spec.podMetricsEndpoints) expect(ports).toContain(endpoint.port);
    }
  });

  it("generates the rules for the job label the PodMonitors produce (<namespace>/<name>)", () => {
    const job = (app: string): string => {
      const monitor = monitors.find((m) => m.spec.selector.matchLabels[kubernetesTarget.appLabel] === app);
      return `job="${monitor?.metadata.namespace}/${monitor?.metadata.name}"`;
    };
    expect(kubernetesConfig.workerSelector).toContain(job(kubernetesTarget.workerApp));
    expect(kubernetesConfig.aggregatorSelector).toContain(job(kubernetesTarget.aggregatorApp));
  });

  it("ships a PrometheusRule with the rule groups generated for that label set", () => {
    const rule = k8sObjects.find((o) => o.kind === "PrometheusRule");
    expect(rule?.metadata.namespace).toBe(kubernetesTarget.namespace);
    expect(rule?.spec).toEqual(JSON.parse(JSON.stringify({ groups: buildRuleFile(kubernetesConfig).groups })));
  });
});

interface ImagesWorkflow {
  readonly on: { readonly push: { readonly tags: readonly string[] } };
  readonly permissions: Record<string, string>;
  readonly jobs: { readonly image: { readonly strategy: { readonly matrix: { readonly target: readonly string[] } }; readonly steps: readonly Step[] } };
}
const imagesWorkflow = await readYaml<ImagesWorkflow>(".github/workflows/images.yml");

describe(".github/workflows/images.yml", () => {
  const steps = imagesWorkflow.jobs.image.steps;
  it("builds both images and pushes them on version tags only", () => {
    expect(imagesWorkflow.on.push.tags).toEqual(["v*.*.*"]);
    expect(imagesWorkflow.jobs.image.strategy.matrix.target).toEqual(dockerfile.stages.filter((s) => s.name === "aggregator" || s.name === "worker").map((s) => s.name).reverse());
    const build = steps.find((s) => s.uses?.startsWith("docker/build-push-action@"));
    expect(build?.with).toMatchObject({ file: "deploy/Dockerfile", target: "${{ matrix.target }}", push: "${{ github.event_name == 'push' }}" });
    expect(imagesWorkflow.permissions.packages).toBe("write");
  });

  it("tags images with the release version, never latest", () => {
    const meta = steps.find((s) => s.uses?.startsWith("docker/metadata-action@"));
    expect(meta?.with?.flavor).toBe("latest=false");
    expect(String(meta?.with?.tags)).toContain("type=semver,pattern={{version}}");
  });
});
