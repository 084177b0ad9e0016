/**
 * deploy/alertmanager.yml in a real Alertmanager, delivering to the example webhook receiver
 * (deploy/alert-webhook/receiver.mjs): notifications arrive, and every inhibition silences
 * only alerts that share its `equal:` labels. The test rewrites only the receiver's host
 * (127.0.0.1 and a free port) and the grouping delays (seconds instead of minutes).
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../src";
import { freePort, httpOk, spawnLogged, waitFor, type Spawned } from "./support/processes";

const alertmanagerBinary = ((): string => {
  for (const name of ["prometheus-alertmanager", "alertmanager"]) {
    try {
      return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
    } catch {
      // try the next name
    }
  }
  return "";
})();

const running: Spawned[] = [];
let workDir = "";
afterAll(async () => {
  await Promise.allSettled(running.map((p) => p.stop()));
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

interface Receiver { readonly name: string; readonly webhook_configs: { url: string }[] }
interface Config { route: Record<string, unknown>; receivers: Receiver[] }

interface PostedAlert { readonly labels: Record<string, string>; readonly annotations?: Record<string, string> }
const alert = (labels: Record<string, string>): PostedAlert => ({
  labels: { severity: "warning", ...labels },
  annotations: { summary: `${labels.alertname} summary.`, runbook_url: `https://example.invalid/runbooks.md#${labels.alertname?.toLowerCase()}` },
});

// Debian's prometheus-alertmanager (CI installs it with amtool); skipped, saying why, where it is absent.
describe.skipIf(!alertmanagerBinary)(`deploy/alertmanager.yml in Alertmanager${alertmanagerBinary ? "" : " (SKIPPED: prometheus-alertmanager not installed)"}`, () => {
  it("delivers to the webhook receiver and inhibits only within equal: labels", async () => {
    workDir = await mkdtemp(join(tmpdir(), "dashboards-alertmanager-"));
    const [receiverPort, alertmanagerPort] = [await freePort(), await freePort()];
    const receiver = spawnLogged(process.execPath, [join(repoRoot, "deploy/alert-webhook/receiver.mjs")], { env: { PORT: String(receiverPort) } });
    running.push(receiver);
    await waitFor("the webhook receiver", () => httpOk(`http://127.0.0.1:${receiverPort}/healthz`), 10_000, receiver);

    const config = parse(await readFile(join(repoRoot, "deploy/alertmanager.yml"), "utf8")) as Config;
    for (const r of config.receivers) {
      for (const w of r.webhook_configs) {
        const url = new URL(w.url);
        url.host = `127.0.0.1:${receiverPort}`;
        w.url = url.toString();
      }
    }
    Object.assign(config.route, { group_wait: "1s", group_interval: "1s" });
    const configPath = join(workDir, "alertmanager.yml");
    await writeFile(configPath, stringify(config));
    const base = `http://127.0.0.1:${alertmanagerPort}`;
    const alertmanager = spawnLogged(alertmanagerBinary, [
      `--config.file=${configPath}`, `--storage.path=${join(workDir, "data")}`,
      `--web.listen-address=127.0.0.1:${alertmanagerPort}`, "--cluster.listen-address=", "--log.level=warn",
    ]);
    running.push(alertmanager);
    await waitFor("Alertmanager", () => httpOk(`${base}/-/ready`), 20_000, alertmanager);

    const worker = { job: "tops-worker" };
    const alerts: PostedAlert[] = [
      alert({ alertname: "AggregatorDown", severity: "critical", job: "tops/tops-aggregator", namespace: "tops" }),
      alert({ alertname: "CircuitBreakerOpen", ...worker, namespace: "tops", instance: "w1" }), // same deployment: inhibited
      alert({ alertname: "CircuitBreakerOpen", ...worker, namespace: "other", instance: "w2" }), // another one: delivered
      alert({ alertname: "NoSuccessfulAttempts", severity: "critical", ...worker, namespace: "tops", instance: "w1" }), // never inhibited by the aggregator
      alert({ alertname: "WorkerDown", severity: "critical", ...worker, instance: "w3" }),
      alert({ alertname: "HighErrorRate", ...worker, instance: "w3" }), // the down worker's: inhibited
      alert({ alertname: "HighErrorRate", ...worker, instance: "w4" }), // another worker's: delivered
    ];
    const posted = await fetch(`${base}/api/v2/alerts`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(alerts) });
    expect(posted.status).toBe(200);

    const delivered = [
      /FIRING {2}critical {2}AggregatorDown {2}namespace=tops job=tops\/tops-aggregator .*route: critical/,
      /FIRING {2}warning {2}CircuitBreakerOpen {2}namespace=other job=tops-worker instance=w2 .*runbook: https:\/\/example\.invalid\/runbooks\.md#circuitbreakeropen/,
      /FIRING {2}critical {2}NoSuccessfulAttempts {2}namespace=tops job=tops-worker instance=w1 /,
      /FIRING {2}critical {2}WorkerDown {2}job=tops-worker instance=w3 /,
      /FIRING {2}warning {2}HighErrorRate {2}job=tops-worker instance=w4 .*route: default/,
    ];
    await waitFor("every notification at the receiver", async () => (delivered.every((re) => re.test(receiver.output())) ? true : undefined), 20_000, receiver);

    interface Status { readonly labels: Record<string, string>; readonly status: { readonly state: string; readonly inhibitedBy: readonly string[] } }
    const statuses = (await (await fetch(`${base}/api/v2/alerts`)).json()) as Status[];
    const stateOf = (alertname: string, instance: string): string | undefined =>
      statuses.find((s) => s.labels.alertname === alertname && s.labels.instance === instance)?.status.state;
    expect(stateOf("CircuitBreakerOpen", "w1")).toBe("suppressed");
    expect(stateOf("HighErrorRate", "w3")).toBe("suppressed");
    expect(stateOf("CircuitBreakerOpen", "w2")).toBe("active");
    expect(stateOf("HighErrorRate", "w4")).toBe("active");
    expect(stateOf("NoSuccessfulAttempts", "w1")).toBe("active");
    expect(receiver.output()).not.toMatch(/CircuitBreakerOpen .*instance=w1|HighErrorRate .*instance=w3/);
  }, 60_000);
});
